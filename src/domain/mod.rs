//! domain layer (being assembled).
