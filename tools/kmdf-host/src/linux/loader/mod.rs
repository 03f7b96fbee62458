//! The loader: maps PE images into this process as the Windows loader
//! does, with their symbols. Imports only the ABI.

pub(crate) mod image;
mod symbols;
