//! config layer (being assembled).
