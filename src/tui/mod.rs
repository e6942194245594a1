//! tui layer (being assembled).
