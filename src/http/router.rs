//! [`Router`]: a tiny table from (method, path pattern) to a handler
//! function. Exact segments and `{param}` segments, nothing more.

use std::fmt;
use std::sync::Arc;

use super::{Handler, HeaderName, MAX_PARAMS, Request, Response};
use crate::Ctx;

/// A route's handler: a function of the request, the response to fill in,
/// and the context (shared state through [`Ctx::state`](crate::Core::state)).
type RouteFn<S> = dyn Fn(&Request<'_>, &mut Response<'_>, &mut Ctx<'_, S>) + Send + Sync;

/// Routes requests by method and path; a [`Handler`].
///
/// A pattern is a path whose segments are either exact (`/users`) or a
/// parameter (`/users/{id}`: any one non-empty segment, read back with
/// [`Request::param`]), and the last may be `{*name}`: the rest of the path,
/// slashes included (`/files/{*path}`, for [`static_files`](super::static_files)).
/// Routes are tried in the order they were added. A
/// `GET` route also answers `HEAD` (the layer sends the headers only).
/// A path no route matches gets a 404; a path that matches only routes of
/// other methods gets a 405 with `Allow`.
///
/// The router is cheap to clone (the table is shared), and `Send`: give each
/// connection a clone. Route functions are `Fn`: per-request work only,
/// state goes through `ctx.state()`. For per-connection state, implement
/// [`Handler`] on your own type.
///
/// ```
/// use twig::http::Router;
/// let router: Router<u64> = Router::new()
///     .get("/", |_, res, _| res.text("hello\n"))
///     .post("/count/{what}", |req, res, ctx| {
///         *ctx.state() += 1;
///         res.status(201).text(req.param("what").unwrap_or_default());
///     });
/// ```
pub struct Router<S = ()> {
    routes: Arc<Vec<Route<S>>>,
}

struct Route<S> {
    method: Box<str>,
    segments: Box<[Segment]>,
    handler: Arc<RouteFn<S>>,
}

#[derive(Debug, Clone)]
enum Segment {
    Exact(Box<str>),
    Param(Box<str>),
    /// `{*name}`, last: the rest of the path, slashes and all (maybe empty).
    Rest(Box<str>),
}

impl<S> Router<S> {
    /// A router with no routes (every request gets a 404).
    pub fn new() -> Router<S> {
        Router {
            routes: Arc::new(Vec::new()),
        }
    }

    /// Adds a route for `method` and `pattern`.
    ///
    /// # Panics
    /// If `pattern` does not start with `/`, has an empty or unclosed `{}`, or has more
    /// than [`MAX_PARAMS`] parameters: a programming error, caught at
    /// start-up.
    pub fn route(
        mut self,
        method: &str,
        pattern: &str,
        handler: impl Fn(&Request<'_>, &mut Response<'_>, &mut Ctx<'_, S>) + Send + Sync + 'static,
    ) -> Router<S> {
        let segments: Box<[Segment]> = pattern
            .strip_prefix('/')
            .unwrap_or_else(|| panic!("route pattern {pattern:?} must start with '/'"))
            .split('/')
            .map(|segment| match segment.strip_prefix('{') {
                Some(name) => {
                    let name = name.strip_suffix('}').unwrap_or_else(|| {
                        panic!("unclosed parameter in route pattern {pattern:?}")
                    });
                    match name.strip_prefix('*') {
                        Some(rest) if !rest.is_empty() => Segment::Rest(rest.into()),
                        _ if !name.is_empty() => Segment::Param(name.into()),
                        _ => panic!("empty parameter in {pattern:?}"),
                    }
                }
                None => Segment::Exact(segment.into()),
            })
            .collect();
        let rest_at = segments.iter().position(|s| matches!(s, Segment::Rest(_)));
        assert!(
            rest_at.is_none_or(|at| at + 1 == segments.len()),
            "{{*rest}} must end route pattern {pattern:?}"
        );
        let params = segments
            .iter()
            .filter(|s| matches!(s, Segment::Param(_) | Segment::Rest(_)))
            .count();
        assert!(
            params <= MAX_PARAMS,
            "{pattern:?} has more than {MAX_PARAMS} parameters"
        );
        Arc::make_mut(&mut self.routes).push(Route {
            method: method.into(),
            segments,
            handler: Arc::new(handler),
        });
        self
    }

    /// Adds a `GET` route (which also answers `HEAD`).
    pub fn get(
        self,
        pattern: &str,
        handler: impl Fn(&Request<'_>, &mut Response<'_>, &mut Ctx<'_, S>) + Send + Sync + 'static,
    ) -> Router<S> {
        self.route("GET", pattern, handler)
    }

    /// Adds a `POST` route.
    pub fn post(
        self,
        pattern: &str,
        handler: impl Fn(&Request<'_>, &mut Response<'_>, &mut Ctx<'_, S>) + Send + Sync + 'static,
    ) -> Router<S> {
        self.route("POST", pattern, handler)
    }

    /// Adds a `PUT` route.
    pub fn put(
        self,
        pattern: &str,
        handler: impl Fn(&Request<'_>, &mut Response<'_>, &mut Ctx<'_, S>) + Send + Sync + 'static,
    ) -> Router<S> {
        self.route("PUT", pattern, handler)
    }

    /// Adds a `DELETE` route.
    pub fn delete(
        self,
        pattern: &str,
        handler: impl Fn(&Request<'_>, &mut Response<'_>, &mut Ctx<'_, S>) + Send + Sync + 'static,
    ) -> Router<S> {
        self.route("DELETE", pattern, handler)
    }

    /// Answers a request whose path matched only routes of other methods:
    /// 405, with their methods in `Allow`. Not the hot path: it allocates.
    fn method_not_allowed(&self, path: &str, response: &mut Response<'_>) {
        let mut allow: Vec<&str> = Vec::new();
        for route in self.routes.iter().filter(|r| r.matches(path).is_some()) {
            for method in [&*route.method, "HEAD"] {
                if !allow.contains(&method) && (method != "HEAD" || &*route.method == "GET") {
                    allow.push(method);
                }
            }
        }
        response
            .status(405)
            .header(HeaderName::ALLOW, &allow.join(", "))
            .text("method not allowed\n");
    }
}

impl<S> Route<S> {
    /// The parameters this route captures from `path`, or `None` if it does
    /// not match. Inlined: it is the router's per-request work (the `Rest`
    /// arm would otherwise tip it out of line, a call per route tried).
    #[inline(always)]
    fn matches<'r, 'p>(
        &'r self,
        path: &'p str,
    ) -> Option<([(&'r str, &'p str); MAX_PARAMS], usize)> {
        let mut params = [("", ""); MAX_PARAMS];
        let mut n = 0;
        // `rest` is what `split('/')` would still yield, without its
        // iterator machinery: paths are short.
        let mut rest = Some(path.strip_prefix('/')?);
        for segment in &self.segments {
            let current = rest?;
            let (part, after) = match current.bytes().position(|b| b == b'/') {
                Some(i) => (&current[..i], Some(&current[i + 1..])),
                None => (current, None),
            };
            rest = after;
            match segment {
                Segment::Exact(exact) if **exact == *part => {}
                Segment::Rest(name) => {
                    params[n] = (&**name, current); // the last segment: the rest
                    return Some((params, n + 1));
                }
                Segment::Param(name) if !part.is_empty() => {
                    params[n] = (&**name, part);
                    n += 1;
                }
                _ => return None,
            }
        }
        rest.is_none().then_some((params, n))
    }
}

impl<S> Handler<S> for Router<S> {
    fn handle(&mut self, request: &Request<'_>, response: &mut Response<'_>, ctx: &mut Ctx<'_, S>) {
        let (method, path) = (request.method(), request.path());
        let mut known_path = false;
        let mut get_for_head = None;
        for route in self.routes.iter() {
            let Some((params, n)) = route.matches(path) else {
                continue;
            };
            known_path = true;
            if *route.method == *method {
                return (route.handler)(&request.with_params(params, n), response, ctx);
            }
            if method == "HEAD" && &*route.method == "GET" && get_for_head.is_none() {
                get_for_head = Some((route, params, n));
            }
        }
        match get_for_head {
            Some((route, params, n)) => {
                (route.handler)(&request.with_params(params, n), response, ctx)
            }
            None if known_path => self.method_not_allowed(path, response),
            None => {
                response.status(404).text("not found\n");
            }
        }
    }
}

impl<S> Clone for Router<S> {
    fn clone(&self) -> Router<S> {
        Router {
            routes: Arc::clone(&self.routes),
        }
    }
}

impl<S> Clone for Route<S> {
    fn clone(&self) -> Route<S> {
        Route {
            method: self.method.clone(),
            segments: self.segments.clone(),
            handler: Arc::clone(&self.handler),
        }
    }
}

impl<S> Default for Router<S> {
    fn default() -> Router<S> {
        Router::new()
    }
}

impl<S> fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|r| (&r.method, &r.segments)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_segments() {
        let patterns = [
            "/",
            "/a",
            "/a/",
            "/a/{x}",
            "/a/{x}/b",
            "/{x}/{y}",
            "/r/{*rest}",
        ];
        let router: Router = patterns.iter().fold(Router::new(), |router, pattern| {
            router.get(pattern, |_, _, _| {})
        });
        // Which routes match `path`, each with the values it captured.
        let matching = |path: &str| -> Vec<(usize, Vec<String>)> {
            let routes = router.routes.iter().enumerate();
            routes
                .filter_map(|(i, route)| {
                    let (params, n) = route.matches(path)?;
                    Some((i, params[..n].iter().map(|p| p.1.to_string()).collect()))
                })
                .collect()
        };
        /// A path, and the routes that match it with their captures.
        type Case = (&'static str, &'static [(usize, &'static [&'static str])]);
        let cases: &[Case] = &[
            ("/", &[(0, &[])]),
            ("/a", &[(1, &[])]),
            ("/a/", &[(2, &[])]),
            ("/a/7", &[(3, &["7"]), (5, &["a", "7"])]),
            ("/a/7/b", &[(4, &["7"])]),
            ("/a/7/b/", &[]),
            ("/r/x/y", &[(6, &["x/y"])]),
            ("/r/", &[(6, &[""])]),
            ("/r", &[]),
            ("//", &[]),
            ("a", &[]),
            ("", &[]),
        ];
        for (path, want) in cases {
            let want: Vec<(usize, Vec<String>)> = want
                .iter()
                .map(|(i, v)| (*i, v.iter().map(|s| s.to_string()).collect()))
                .collect();
            assert_eq!(matching(path), want, "{path:?}");
        }
    }
}
