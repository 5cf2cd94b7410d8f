//! The typed values of the protocol.

mod body;
mod command;
mod core;
mod fetch;
mod response;
mod search;

pub use self::body::*;
pub use self::command::*;
pub use self::core::*;
pub use self::fetch::*;
pub use self::response::*;
pub use self::search::*;
