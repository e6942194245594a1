//! store layer (being assembled).
