//! Descriptor passing over Unix sockets: a small framed message with
//! descriptors attached (`SCM_RIGHTS`), the peer checked with `SO_PEERCRED`.
//!
//! [`frame`] is the sans-IO wire format; [`FdChannel`] the socket adapter.

mod channel;
pub mod frame;
mod peer;

pub use channel::{FdChannel, ReceivedFrame};
pub use frame::{decode_frame, encode_frame, Decoded, FrameHeader, FrameLimits};
pub use peer::{peer_credentials, PeerCred, PeerPolicy};
