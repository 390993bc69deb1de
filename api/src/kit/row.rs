//! A route row: method, path pattern, who may call it, and the handler that answers it. Each
//! surface (`melange/`, `auth/`, `requests/`, `admin/`) lists its own rows in its `mod.rs`;
//! `crate::routes` concatenates the lists. Authorization reads a row's scope, the dispatcher
//! calls its handler with the placeholders its pattern names, and the isolation test walks
//! the same rows: one row, three readers, nothing to keep in step by hand.

use futures::future::BoxFuture;
use ipledger_projections::State;

use crate::app::App;
use crate::kit::Answer;
use crate::request::Request;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// No token needed (versions, health).
    Public,
    /// Admins, and tenants for their own `{tenant}` in the path (decision 24).
    Tenant,
    /// Admins only (provider-wide views, MAC ranges, interfaces by vif, instances, tokens).
    Admin,
    /// Agents and admins (the IP request intake).
    Agent,
    /// Surfaces whose objects carry their tenant in the body or the object itself, not in
    /// the path (Scaleway projects, pools): admins and agents act on any tenant's objects,
    /// a tenant token on its own only. The handler enforces it through [`Call::owner`]:
    /// another tenant's object is 404 (its existence is not confirmed), a write naming
    /// another tenant 403.
    Owned,
    /// Registrars and admins (zone registrations, issue 10): the views and admin-free
    /// registration routes.
    Registrar,
    /// Like `Registrar`, but with `registrations_open` a request without any token is let
    /// in too: the original's four routes, whose clients send no token.
    RegistrarOpen,
}

/// A handler's answer, still to be awaited.
pub type Pending<'a> = BoxFuture<'a, Answer>;

/// What a row runs: every handler is an `async fn(Call<'_>) -> Answer`, boxed by [`row!`].
pub type Handler = for<'a> fn(Call<'a>) -> Pending<'a>;

#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    /// Path with `{name}` placeholders; `{tenant}` is the tenant the route is scoped to.
    pub pattern: &'static str,
    pub scope: Scope,
    pub handler: Handler,
}

impl Route {
    fn pattern_segments(&self) -> impl Iterator<Item = &'static str> {
        self.pattern.split('/').filter(|s| !s.is_empty())
    }

    /// Whether `segments` fit the pattern: literal segments must match, placeholders match
    /// any one segment. The segments are the ones the router sees (`.json`/`.xml` suffix
    /// removed).
    pub fn matches(&self, segments: &[&str]) -> bool {
        self.pattern_segments().count() == segments.len()
            && self
                .pattern_segments()
                .zip(segments)
                .all(|(p, s)| p.starts_with('{') || p == *s)
    }

    /// The segments the pattern's placeholders matched, by placeholder name (no braces).
    pub fn params<'a>(&self, segments: &[&'a str]) -> Vec<(&'static str, &'a str)> {
        self.pattern_segments()
            .zip(segments)
            .filter_map(|(p, s)| {
                let name = p.strip_prefix('{')?.strip_suffix('}')?;
                Some((name, *s))
            })
            .collect()
    }

    /// The `{tenant}` segment of a request on this route, if its pattern has one.
    pub fn tenant_of<'a>(&self, segments: &[&'a str]) -> Option<&'a str> {
        self.pattern_segments()
            .zip(segments)
            .find(|(p, _)| *p == "{tenant}")
            .map(|(_, s)| *s)
    }
}

/// One request as a handler sees it: the service, the request (already admitted), and the
/// path segments its row's placeholders matched.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub app: &'a App,
    pub req: &'a Request,
    params: &'a [(&'static str, &'a str)],
}

impl<'a> Call<'a> {
    pub fn new(app: &'a App, req: &'a Request, params: &'a [(&'static str, &'a str)]) -> Self {
        Call { app, req, params }
    }

    /// On an [`Scope::Owned`] row: `Some(tenant)` when the caller is that tenant's token and
    /// may see and change only that tenant's objects, `None` when it may act on any tenant's
    /// (admins and agents).
    pub fn owner(&self) -> Option<&'a str> {
        self.req.owner.as_deref()
    }

    /// The state this request reads: the live published views, or the past state its
    /// `as_of` named (`asof.rs`). Every handler reads through here, so every GET answers
    /// as-of reads alike. Like the views' read guard, let it go before rendering.
    pub fn views(&self) -> Views<'a> {
        match &self.req.as_of {
            Some(state) => Views::AsOf(state),
            None => Views::Live(self.app.writer.views().read()),
        }
    }

    /// The segment matched by `{name}`, if the row's pattern has that placeholder.
    pub fn param_opt(&self, name: &str) -> Option<&'a str> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// The segment matched by `{name}`. A handler asks only for placeholders of its own
    /// rows' patterns, so a miss is a programmer error (and every row is exercised by the
    /// isolation test).
    pub fn param(&self, name: &str) -> &'a str {
        self.param_opt(name)
            .unwrap_or_else(|| panic!("the route's pattern has no {{{name}}} placeholder"))
    }
}

/// The state a handler reads ([`Call::views`]): the newest published version (immutable:
/// holding it never makes the writer wait), or a past state shared with the as-of cache.
pub enum Views<'a> {
    Live(std::sync::Arc<State>),
    AsOf(&'a State),
}

impl std::ops::Deref for Views<'_> {
    type Target = State;

    fn deref(&self) -> &State {
        match self {
            Views::Live(guard) => guard,
            Views::AsOf(state) => state,
        }
    }
}

/// `row!("GET", "/v1/things/{thing}", Admin, things::show)`: a [`Route`] whose handler is the
/// `async fn(Call<'_>) -> Answer` named last.
macro_rules! row {
    ($method:literal, $pattern:literal, $scope:ident, $handler:path) => {
        $crate::kit::Route {
            method: $method,
            pattern: $pattern,
            scope: $crate::kit::Scope::$scope,
            handler: {
                fn handler(c: $crate::kit::Call<'_>) -> $crate::kit::Pending<'_> {
                    Box::pin($handler(c))
                }
                handler
            },
        }
    };
}
pub(crate) use row;
