//! providers layer (being assembled).
