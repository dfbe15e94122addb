//! Module `rnn`: not implemented yet.
