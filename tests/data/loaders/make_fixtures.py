"""Writes the loader fixtures in this folder with numpy itself (run once; the outputs are committed).

Each pickled object array is written at every protocol numpy/CPython emit for it (2, 3, 4, 5),
so the Rust pickle reader is checked against the real writer, not against itself.
`expected.json` holds the values the files must decode to.

    ~/.cache/cortical-peers-venv/bin/python make_fixtures.py
"""
import json
import pickle

import numpy as np

spikes = np.empty(3, dtype=object)
spikes[0] = np.array([0.5, 1.25, 3.0, 6347.5])
spikes[1] = np.array([], dtype=np.float64)
spikes[2] = np.array([1e-300, 2.0 ** 40, 1234.5678])

positions = np.empty(2, dtype=object)
positions[0] = np.array([127552, 195520, 15658], dtype=np.int64)
positions[1] = np.array([-1, 2 ** 40, 0], dtype=np.int64)

def npy_bytes(arr, protocol):
    """A .npy file of an object array with the pickle written at `protocol`."""
    from numpy.lib import format as fmt
    import io
    buf = io.BytesIO()
    fmt.write_array_header_1_0(buf, fmt.header_data_from_array_1_0(arr))
    pickle.dump(arr, buf, protocol=protocol)
    return buf.getvalue()

for p in (2, 3, 4, 5):
    with open(f"spikes_p{p}.npy", "wb") as f:
        f.write(npy_bytes(spikes, p))
    with open(f"positions_p{p}.npy", "wb") as f:
        f.write(npy_bytes(positions, p))

# np.save's own path (protocol 3 at numpy 2) for comparison.
np.save("spikes_npsave.npy", spikes, allow_pickle=True)

m = np.arange(12, dtype=np.float64).reshape(3, 4) / 7.0
np.save("f64_c.npy", m)
np.save("f64_fortran.npy", np.asfortranarray(m))
np.save("i64_1d.npy", np.array([5, -6, 2 ** 62], dtype=np.int64))
from numpy.lib import format as fmt
with open("f64_v2.npy", "wb") as f:
    fmt.write_array(f, m, version=(2, 0))
with open("f64_v3.npy", "wb") as f:
    fmt.write_array(f, m, version=(3, 0))

json.dump(
    {
        "spikes": [list(map(float, s)) for s in spikes],
        "positions": [list(map(int, p)) for p in positions],
        "f64": m.ravel().tolist(),
        "f64_shape": list(m.shape),
        "i64": [5, -6, 2 ** 62],
    },
    open("expected.json", "w"),
    indent=1,
)
