//! [`Response::offload`]: a response answered later, from the offload pool
//! (see [`offload`](crate::offload)): the handler hands blocking work to a
//! pool thread, and the callback that gets its result fills in the
//! response, which the layer then writes as it writes any other. Later
//! pipelined requests on the connection wait for it, so responses stay in
//! order.

use super::connection::connection_header;
use super::date;
use super::response::{Response, write_full};
use crate::{Ctx, OffloadError};

impl Response<'_> {
    /// Answers this request later: runs `work` on the offload pool, then
    /// `then` on the loop thread with its result and a fresh `200` response
    /// to fill in, written like any other (with `Date`, `Server`,
    /// `Content-Length`, keep-alive or close as the request asked). What
    /// was set on `self` is discarded.
    ///
    /// ```
    /// use twig::http::{Request, Response, Router};
    /// let app: Router = Router::new().get("/slow", |_req: &Request, res: &mut Response, ctx: &mut twig::Ctx| {
    ///     let lookup = || std::thread::sleep(std::time::Duration::from_millis(5)); // blocking
    ///     let answered = res.offload(ctx, lookup, |(), res, _ctx| res.text("done\n"));
    ///     if answered.is_err() {
    ///         res.status(503).text("busy, try again\n");
    ///     }
    /// });
    /// ```
    ///
    /// # Errors
    /// As [`Ctx::offload`]: the pool is full ([`OffloadError::Full`]) or
    /// the connection is not answering. Nothing was queued and `self` is
    /// still the response to write: set a 503, say.
    pub fn offload<S, T, W, D>(
        &mut self,
        ctx: &mut Ctx<'_, S>,
        work: W,
        then: D,
    ) -> Result<(), OffloadError>
    where
        S: 'static,
        T: Send + 'static,
        W: FnOnce() -> T + Send + 'static,
        D: FnOnce(T, &mut Response<'_>, &mut Ctx<'_, S>) + Send + 'static,
    {
        let exchange = self.exchange;
        ctx.offload(work, move |value, ctx| {
            let (mut headers, mut body) = (Vec::new(), Vec::new());
            let mut response = Response::new(&mut headers, &mut body);
            response.exchange = exchange;
            then(value, &mut response, ctx);
            let (close, connection) = connection_header(exchange, &response, ctx);
            let date = date::cached(ctx.now());
            write_full(
                ctx.output(),
                &response,
                &date,
                exchange.head_only,
                connection,
            );
            if close {
                let id = ctx.id();
                ctx.close(id);
            }
        })?;
        self.deferred = true;
        Ok(())
    }
}
