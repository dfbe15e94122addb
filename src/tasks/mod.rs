//! Module `tasks`: not implemented yet.
