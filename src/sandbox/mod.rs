//! sandbox layer (being assembled).
