//! The framework backends a driver binds to. Each keeps its state in the
//! session as a [`Backend`](crate::linux::kernel::session::Backend); the
//! model framework ([`model`]) is the one the host runs today. Imports the
//! kernel and the layers below it.

pub(crate) mod model;
