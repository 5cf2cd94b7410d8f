//! PLAIN authentications per second over the auth-client socket.
fn main() {}
