//! Server-Sent Events (`text/event-stream`, the WHATWG HTML standard §9.2)
//! on a push [`Stream`]: [`Response::events`] starts one, [`Events`] sends
//! events, comments (keep-alives) and the reconnection delay.

use super::response::Response;
use super::stream::Stream;
use crate::{Core, Ctx};

/// An open event stream: a `Copy` handle for timers and other connections'
/// callbacks, like the [`Stream`] it wraps.
///
/// ```
/// use std::time::Duration;
/// use twig::http::Router;
/// let app: Router = Router::new().get("/ticks", |_, res, ctx| {
///     let events = res.events(ctx);
///     ctx.call_later(Duration::from_millis(100), move |core| {
///         events.send(core, Some("1"), None, "tick");
///         events.end(core);
///     });
/// });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Events {
    stream: Stream,
}

impl Response<'_> {
    /// Starts a Server-Sent Events stream: `200`, `Content-Type:
    /// text/event-stream`, `Cache-Control: no-store`, a chunked body (see
    /// [`Response::stream`]). A status or headers set before stay.
    pub fn events<S>(&mut self, ctx: &mut Ctx<'_, S>) -> Events {
        self.content_type("text/event-stream");
        self.header("Cache-Control", "no-store");
        Events {
            stream: self.stream(ctx, None),
        }
    }
}

impl Events {
    /// Sends one event: `id:` and `event:` lines if given (a line break in
    /// them is cut off there: it would end the field), then one `data:`
    /// line per line of `data`. Returns false if the connection is gone.
    pub fn send<S>(
        &self,
        core: &mut Core<S>,
        id: Option<&str>,
        event: Option<&str>,
        data: &str,
    ) -> bool {
        let mut out = Vec::with_capacity(data.len() + 32);
        encode(&mut out, id, event, data);
        self.stream.write(core, &out)
    }

    /// Sends a comment line (`: text`), which clients ignore: a keep-alive
    /// through proxies that close quiet connections.
    pub fn comment<S>(&self, core: &mut Core<S>, text: &str) -> bool {
        let mut out = Vec::with_capacity(text.len() + 4);
        out.extend_from_slice(b": ");
        out.extend_from_slice(first_line(text).as_bytes());
        out.extend_from_slice(b"\n\n");
        self.stream.write(core, &out)
    }

    /// Tells the client how long to wait before reconnecting (`retry:`).
    pub fn retry<S>(&self, core: &mut Core<S>, millis: u32) -> bool {
        self.stream
            .write(core, format!("retry: {millis}\n\n").as_bytes())
    }

    /// Ends the stream (see [`Stream::end`]).
    pub fn end<S>(&self, core: &mut Core<S>) -> bool {
        self.stream.end(core)
    }

    /// The stream underneath, for [`Stream::owed`] and the connection id.
    pub fn stream(&self) -> Stream {
        self.stream
    }
}

/// One event in the `text/event-stream` format, ending with the blank line
/// that dispatches it.
fn encode(out: &mut Vec<u8>, id: Option<&str>, event: Option<&str>, data: &str) {
    for (field, value) in [("id: ", id), ("event: ", event)] {
        if let Some(value) = value {
            out.extend_from_slice(field.as_bytes());
            out.extend_from_slice(first_line(value).as_bytes());
            out.push(b'\n');
        }
    }
    // CRLF, CR and LF all end a line in the format: each becomes a field.
    for line in data.split('\n') {
        for line in line.strip_suffix('\r').unwrap_or(line).split('\r') {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
    out.push(b'\n');
}

/// `text` up to its first line break.
fn first_line(text: &str) -> &str {
    text.split(['\r', '\n']).next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_fields_and_a_blank_line() {
        let cases: &[(Option<&str>, Option<&str>, &str, &str)] = &[
            (None, None, "hi", "data: hi\n\n"),
            (
                Some("7"),
                Some("tick"),
                "a\nb",
                "id: 7\nevent: tick\ndata: a\ndata: b\n\n",
            ),
            (
                Some("1\nid: 2"),
                None,
                "x\r\ny\rz",
                "id: 1\ndata: x\ndata: y\ndata: z\n\n",
            ),
            (None, None, "", "data: \n\n"),
        ];
        for &(id, event, data, want) in cases {
            let mut out = Vec::new();
            encode(&mut out, id, event, data);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{data:?}");
        }
    }
}
