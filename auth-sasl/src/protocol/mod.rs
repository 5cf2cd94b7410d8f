//! Dovecot's auth protocols: the auth-client protocol (SASL, what login
//! processes and Postfix speak) and the auth-master/userdb protocol, both as
//! sans-IO cores on the server and the client side.

pub mod client;
pub mod commands;
pub mod line;
pub mod master_client;
pub mod master_conn;
pub mod server_conn;
