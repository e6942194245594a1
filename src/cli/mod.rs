//! cli layer (being assembled).
