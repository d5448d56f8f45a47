//! MLLP (Minimal Lower Layer Protocol): each message framed as `0x0B message 0x1C 0x0D` over
//! TCP. The listener serves many persistent connections; each connection handles its
//! messages in order, answering every one with its ACK before reading the next.

use crate::Interface;
use medulla_hl7v2::ack::{self, AckCode, AckError};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Start of a frame.
pub const START: u8 = 0x0B;
/// End of a frame: file separator then carriage return.
pub const END: [u8; 2] = [0x1C, 0x0D];

/// Listener settings.
#[derive(Debug, Clone)]
pub struct MllpOptions {
    /// Largest message accepted, in bytes; a larger one is rejected (AR) and its connection
    /// closed.
    pub max_message_bytes: usize,
    /// A connection silent for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; further ones wait to be accepted.
    pub max_connections: usize,
}

impl Default for MllpOptions {
    fn default() -> Self {
        MllpOptions {
            max_message_bytes: 16 << 20,
            idle_timeout: Duration::from_secs(300),
            max_connections: 1024,
        }
    }
}

/// What the framer found in the bytes it was given.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A whole message.
    Frame(Vec<u8>),
    /// Bytes outside any frame, skipped.
    Garbage(usize),
    /// A message grew past the limit; the rest of it is skipped. Holds its first bytes.
    Oversize(Vec<u8>),
}

/// Cuts a byte stream into frames.
#[derive(Debug)]
pub struct Framer {
    max: usize,
    inside: bool,
    skipping: bool,
    buffer: Vec<u8>,
    garbage: usize,
}

impl Framer {
    /// A framer accepting messages up to `max` bytes.
    pub fn new(max: usize) -> Framer {
        Framer {
            max,
            inside: false,
            skipping: false,
            buffer: Vec::new(),
            garbage: 0,
        }
    }

    /// True while a frame has started but not ended.
    pub fn in_frame(&self) -> bool {
        self.inside
    }

    /// Feeds bytes; returns what they completed.
    pub fn push(&mut self, mut data: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        while !data.is_empty() {
            if !self.inside {
                match data.iter().position(|&b| b == START) {
                    Some(at) => {
                        self.garbage += at;
                        if self.garbage > 0 {
                            events.push(Event::Garbage(self.garbage));
                            self.garbage = 0;
                        }
                        self.inside = true;
                        self.skipping = false;
                        self.buffer.clear();
                        data = &data[at + 1..];
                    }
                    None => {
                        // Whitespace between frames is normal; anything else is garbage.
                        self.garbage += data.iter().filter(|b| !b.is_ascii_whitespace()).count();
                        return events;
                    }
                }
                continue;
            }
            // Inside a frame: look for the end mark, which may straddle two reads.
            let end = find_end(&self.buffer, data);
            let (take, rest, complete) = match end {
                Some(EndAt::Data(at)) => (&data[..at], &data[at + 2..], true),
                Some(EndAt::Straddle) => (&data[..0], &data[1..], true),
                None => (data, &data[data.len()..], false),
            };
            if !self.skipping {
                self.buffer.extend_from_slice(take);
                if self.buffer.len() > self.max {
                    self.skipping = true;
                    self.buffer.truncate(4096);
                    events.push(Event::Oversize(std::mem::take(&mut self.buffer)));
                }
            }
            if complete {
                if matches!(end, Some(EndAt::Straddle)) {
                    self.buffer.pop();
                }
                if !self.skipping {
                    events.push(Event::Frame(std::mem::take(&mut self.buffer)));
                }
                self.inside = false;
                self.skipping = false;
            }
            data = rest;
        }
        events
    }
}

enum EndAt {
    /// `0x1C 0x0D` starts at this offset of the new data.
    Data(usize),
    /// The buffer ends with `0x1C` and the new data starts with `0x0D`.
    Straddle,
}

fn find_end(buffer: &[u8], data: &[u8]) -> Option<EndAt> {
    if buffer.last() == Some(&END[0]) && data.first() == Some(&END[1]) {
        return Some(EndAt::Straddle);
    }
    data.windows(2).position(|w| w == END).map(EndAt::Data)
}

/// Frames `message` for the wire.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(START);
    out.extend_from_slice(message);
    out.extend_from_slice(&END);
    out
}

/// Serves MLLP connections on `listener` until `shutdown` completes; then stops accepting
/// and lets open connections finish the message they are handling.
///
/// # Errors
/// When accepting fails for a reason other than a single bad connection.
pub async fn serve(
    listener: TcpListener,
    interface: Interface,
    options: MllpOptions,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let options = Arc::new(options);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Per-connection failures (reset before accept, too many files) must not
                // stop the listener.
                tracing::warn!(%error, "MLLP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let interface = interface.clone();
        let options = options.clone();
        connections.spawn(async move {
            let _permit = permit;
            if let Err(error) = connection(stream, peer, &interface, &options).await {
                tracing::debug!(%peer, %error, "MLLP connection ended");
            }
        });
        while connections.try_join_next().is_some() {}
    }
    // Connections end when their peer closes or goes idle; do not wait longer than a moment
    // for them at shutdown (a message being handled finishes: its task is not aborted until
    // the runtime stops).
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    interface: &Interface,
    options: &MllpOptions,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut framer = Framer::new(options.max_message_bytes);
    let mut buffer = vec![0_u8; 64 * 1024];
    tracing::debug!(%peer, "MLLP connection");
    loop {
        let read = tokio::time::timeout(options.idle_timeout, stream.read(&mut buffer)).await;
        let n = match read {
            Err(_) => {
                tracing::debug!(%peer, "MLLP connection idle; closing");
                return Ok(());
            }
            Ok(read) => read?,
        };
        if n == 0 {
            if framer.in_frame() {
                tracing::warn!(%peer, "MLLP peer closed the connection inside a frame; the partial message is dropped unacknowledged");
            }
            return Ok(());
        }
        for event in framer.push(&buffer[..n]) {
            match event {
                Event::Garbage(bytes) => {
                    tracing::warn!(%peer, bytes, "bytes outside an MLLP frame were skipped");
                }
                Event::Frame(message) => {
                    let handled = interface.handle(&message).await;
                    let Some(ack) = handled.ack else {
                        // Not durably logged: no ACK, so the sender resends later.
                        return Err(io::Error::other("the store failed; closing without ACK"));
                    };
                    stream.write_all(&frame(&ack)).await?;
                }
                Event::Oversize(start) => {
                    let limit = options.max_message_bytes;
                    // Only the header is needed (and the rest of the prefix may be cut
                    // mid-segment): MSH alone is a message the ACK can answer.
                    let header_end = start
                        .iter()
                        .position(|&b| b == b'\r' || b == b'\n')
                        .unwrap_or(start.len());
                    let message =
                        medulla_hl7v2::parse(&start[..header_end], &Default::default()).ok();
                    let error = AckError {
                        code: "100",
                        text: format!("the message exceeds the {limit}-byte limit"),
                        location: None,
                    };
                    let ack = ack::build(
                        message.as_ref(),
                        AckCode::Reject,
                        Some(&error),
                        "OVERSIZE",
                        "",
                    );
                    stream.write_all(&frame(&ack.to_bytes())).await?;
                    tracing::warn!(%peer, limit, "an oversize MLLP message was rejected; closing");
                    return Ok(());
                }
            }
        }
    }
}

/// A client that sends one message at a time and waits for its ACK.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    framer: Framer,
    timeout: Duration,
}

impl Client {
    /// Connects to `address`; `timeout` bounds every wait for an ACK.
    ///
    /// # Errors
    /// When the connection cannot be made.
    pub async fn connect(address: &str, timeout: Duration) -> io::Result<Client> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connecting timed out"))??;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            framer: Framer::new(64 << 20),
            timeout,
        })
    }

    /// Sends `message` and returns the ACK's bytes.
    ///
    /// # Errors
    /// When the connection fails or closes, or no ACK arrives in time.
    pub async fn send(&mut self, message: &[u8]) -> io::Result<Vec<u8>> {
        self.stream.write_all(&frame(message)).await?;
        let mut buffer = vec![0_u8; 16 * 1024];
        loop {
            let n = tokio::time::timeout(self.timeout, self.stream.read(&mut buffer))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no ACK in time"))??;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the receiver closed the connection without an ACK",
                ));
            }
            for event in self.framer.push(&buffer[..n]) {
                if let Event::Frame(ack) = event {
                    return Ok(ack);
                }
            }
        }
    }
}

/// Splits a file's contents into messages: each starts at an `MSH` at the start of a line.
pub fn split_messages(contents: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    for (at, window) in contents.windows(4).enumerate() {
        if &window[1..] == b"MSH" && (window[0] == b'\r' || window[0] == b'\n') {
            starts.push(at + 1);
        }
    }
    if contents.starts_with(b"MSH") {
        starts.insert(0, 0);
    }
    let mut messages = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(contents.len());
        let message = &contents[start..end];
        let trimmed_len = message.len()
            - message
                .iter()
                .rev()
                .take_while(|b| **b == b'\n' || **b == b' ')
                .count();
        messages.push(&message[..trimmed_len]);
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_across_reads_with_garbage_and_limits() {
        let mut framer = Framer::new(100);
        let mut stream = b"junk".to_vec();
        stream.extend(frame(b"MSH|one\r"));
        stream.extend(b"\r\n");
        stream.extend(frame(b"MSH|two\r"));
        let mut events = Vec::new();
        // One byte at a time: end marks straddle reads.
        for byte in &stream {
            events.extend(framer.push(std::slice::from_ref(byte)));
        }
        assert_eq!(
            events,
            vec![
                Event::Garbage(4),
                Event::Frame(b"MSH|one\r".to_vec()),
                Event::Frame(b"MSH|two\r".to_vec()),
            ]
        );
        let mut framer = Framer::new(10);
        let big = frame(&[b'x'; 50]);
        let events = framer.push(&big);
        assert!(matches!(events.as_slice(), [Event::Oversize(_)]));
        assert_eq!(
            framer.push(&frame(b"ok")),
            vec![Event::Frame(b"ok".to_vec())]
        );
    }

    #[test]
    fn files_split_into_messages() {
        let file = b"MSH|^~\\&|A\rPID|1\r\nMSH|^~\\&|B\rPID|2\r\n\n";
        let messages = split_messages(file);
        assert_eq!(
            messages,
            vec![&b"MSH|^~\\&|A\rPID|1\r"[..], &b"MSH|^~\\&|B\rPID|2\r"[..]]
        );
    }
}
