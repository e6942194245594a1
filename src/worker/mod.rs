//! worker layer (being assembled).
