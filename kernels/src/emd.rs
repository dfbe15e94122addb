//! Module `emd`: not implemented yet.
