//! SASL mechanisms, Dovecot password schemes, passdb/userdb backends and Dovecot's auth protocols.
#![forbid(unsafe_code)]

mod error;
pub mod escape;
pub mod password;
mod secret;

pub use error::{Error, Result};
pub use secret::Secret;
pub mod sasl;
pub mod db;
pub mod protocol;
pub mod server;
#[doc(hidden)]
pub mod fuzz_harness;
