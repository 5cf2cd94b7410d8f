//! Line-length limits the decoders enforce.

/// Line-length limits, each counting the line terminator (CRLF) as the RFCs
/// do. A line over its limit is reported as [`Error::LineTooLong`] as soon
/// as the limit is passed; the decoder then skips to the next LF without
/// buffering the rest of it.
///
/// [`Error::LineTooLong`]: crate::Error::LineTooLong
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A client command line: 255 octets (RFC 2449 section 4).
    pub command_line: usize,
    /// A client line answering an AUTH continuation (RFC 5034). The
    /// 255-octet command limit does not apply to these; SASL tokens
    /// (GSSAPI, SCRAM) can be long. Default 8192.
    pub sasl_line: usize,
    /// A server status line and each line of a listing (LIST, UIDL, CAPA,
    /// ...): 512 octets (RFC 2449 section 4). Message bodies (RETR, TOP)
    /// are streamed and have no line limit.
    pub response_line: usize,
    /// A server AUTH continuation line (`+ base64`). Default 8192.
    pub continuation_line: usize,
}

impl Limits {
    /// The RFC limits: 255 for commands, 512 for responses, 8192 for SASL
    /// lines in both directions.
    pub const RFC: Limits = Limits {
        command_line: 255,
        sasl_line: 8192,
        response_line: 512,
        continuation_line: 8192,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::RFC
    }
}
