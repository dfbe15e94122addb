//! The ablation driver's command line. Not implemented yet: it says what it will do and exits.
fn main() {
    println!(
        "cortical-priors ablation: not implemented yet.\n\
         When it is, this command will derive priors from a MICrONS field (or the built-in \
         synthetic field), train the paper's eleven RNN variants on three tasks and write \
         results.csv, config.json and summary.md. Nothing was trained."
    );
}
