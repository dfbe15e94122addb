"""The peer side of `cargo bench --bench paired`: times scipy / PyTorch on request.

Started by benches/paired.rs with the peers' python and the peers folder as its argument; it
builds its inputs with ../shared/peers/bench_peers.py's own helpers (rand_norm1, rnn_params_np,
rnn_x_np) and the same PyTorch model as the peers' rnn_torch section. One command per line on
stdin, one reply line on stdout:

  probe                        -> "ok scipy <version> torch <version or 'none'>"
  expm N NORM SEED PATH        -> A = rand_norm1(default_rng(SEED), N, NORM), written to PATH
                                  (float64, row-major); times scipy.linalg.expm(A). "ok <m> <s>"
  frechet N NORM SEED PATH     -> A as above, then E = rand_norm1(same rng, N, 1), both written to
                                  PATH; times scipy.linalg.expm_frechet(A, E). "ok"
  rnn N B                      -> torch.nn.RNN(tanh) + linear readout + backward(), as the
                                  peers' rnn_torch section, T = 100, 8 inputs. "ok"
  time K                       -> K timed calls of the current case: "t <ns> <ns> ..."
  quit
"""
import gc
import sys
from time import perf_counter_ns


def main():
    peers = sys.argv[1]
    sys.path.insert(0, peers)
    import bench_peers as bp  # noqa: E402  (the peers' helpers, so inputs match theirs)
    import numpy as np
    import scipy
    import scipy.linalg as sl

    try:
        import torch

        torch.set_num_threads(bp.NCORES)
    except Exception:  # torch is optional in the peers' venv (NO_TORCH=1)
        torch = None
    fn = None
    gc.disable()
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd, args = words[0], words[1:]
        if cmd == "quit":
            break
        if cmd == "probe":
            print(f"ok scipy {scipy.__version__} torch {torch.__version__ if torch else 'none'}", flush=True)
        elif cmd in ("expm", "frechet"):
            n, nrm, seed, path = int(args[0]), float(args[1]), int(args[2]), args[3]
            rng = np.random.default_rng(seed)
            a = bp.rand_norm1(rng, n, nrm)
            if cmd == "expm":
                a.astype("<f8").tofile(path)
                fn = lambda: sl.expm(a)  # noqa: E731
                try:
                    from scipy.linalg._matfuncs_expm import pick_pade_structure

                    am = np.empty((5, n, n))
                    am[0] = a
                    m, s = pick_pade_structure(am)
                    reply = f"ok {m} {s}"
                except Exception:
                    reply = "ok ? ?"
            else:
                e = bp.rand_norm1(rng, n, 1.0)
                np.concatenate([a.ravel(), e.ravel()]).astype("<f8").tofile(path)
                fn = lambda: sl.expm_frechet(a, e)  # noqa: E731
                reply = "ok"
            fn()
            fn()
            print(reply, flush=True)
        elif cmd == "rnn":
            if torch is None:
                print("err torch is not installed in the peers' venv", flush=True)
                continue
            n, batch = int(args[0]), int(args[1])
            pn = bp.rnn_params_np(n)
            rnn = torch.nn.RNN(bp.RNN_IN, n, nonlinearity="tanh", batch_first=False)
            lin = torch.nn.Linear(n, bp.RNN_OUT)
            with torch.no_grad():
                rnn.weight_ih_l0.copy_(torch.from_numpy(pn["W_ih"]))
                rnn.weight_hh_l0.copy_(torch.from_numpy(pn["W_hh"]))
                rnn.bias_ih_l0.copy_(torch.from_numpy(pn["b_ih"]))
                rnn.bias_hh_l0.copy_(torch.from_numpy(pn["b_hh"]))
                lin.weight.copy_(torch.from_numpy(pn["W_out"]))
                lin.bias.copy_(torch.from_numpy(pn["b_out"]))
            params = list(rnn.parameters()) + list(lin.parameters())
            x = torch.from_numpy(bp.rnn_x_np(batch))

            def step(rnn=rnn, lin=lin, params=params, x=x):
                for q in params:
                    q.grad = None
                out, _ = rnn(x)
                y = lin(out)
                (y * y).mean().backward()

            fn = step
            fn()
            fn()
            print("ok", flush=True)
        elif cmd == "time":
            if fn is None:
                print("err no case set", flush=True)
                continue
            out = []
            for _ in range(int(args[0])):
                t0 = perf_counter_ns()
                fn()
                out.append(perf_counter_ns() - t0)
            print("t " + " ".join(map(str, out)), flush=True)
        else:
            print(f"err unknown command {cmd!r}", flush=True)


if __name__ == "__main__":
    main()
