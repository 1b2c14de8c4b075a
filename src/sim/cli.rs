//! `tgm-sync sim`: run the simulator as a stand-alone server on 127.0.0.1 until Ctrl-C.

use std::net::{Ipv4Addr, SocketAddr};

use crate::currency::Currency;

use super::{FaultOptions, Quirks, SimError, SimOptions, SimServer};

/// Serve a simulated TGmembership API on 127.0.0.1 (deterministic data from a seed).
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed of the generated data and of the fault dice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of orders.
    #[arg(long, default_value_t = 500)]
    pub orders: usize,
    /// Number of memberships (`/members` rows).
    #[arg(long, default_value_t = 200)]
    pub members: usize,
    /// Number of plans (at least 1).
    #[arg(long, default_value_t = 8)]
    pub plans: usize,
    /// Number of projects.
    #[arg(long, default_value_t = 3)]
    pub projects: usize,
    /// Number of coupons.
    #[arg(long, default_value_t = 4)]
    pub coupons: usize,
    /// Users who never held a membership (default: members / 2).
    #[arg(long)]
    pub leads: Option<usize>,
    /// Bot id the URLs must carry (the first bot's, with --bots).
    #[arg(long, default_value_t = 1_347_378_140)]
    pub bot_id: u64,
    /// The simulator's own fake API key, which the URLs must carry (the first bot's; bot N
    /// after it has `<api-key>-N`).
    #[arg(long, default_value = "sim-secret-key")]
    pub api_key: String,
    /// Bots to serve, ids from --bot-id up, each with its own data set (the sizes above,
    /// its own seed) and key.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub bots: u64,
    /// A bot whose key is revoked from the start (answered HTTP 401); repeatable.
    #[arg(long, value_name = "BOT_ID")]
    pub revoked_bot: Vec<u64>,
    /// A bot whose API is down from the start (answered HTTP 503); repeatable.
    #[arg(long, value_name = "BOT_ID")]
    pub down_bot: Vec<u64>,
    /// The bot's preferred report currency (reports default to EUR without it).
    #[arg(long)]
    pub preferred_currency: Option<Currency>,
    /// Share of orders paid in another currency than their plan's (0..1).
    #[arg(long, default_value_t = super::options::DEFAULT_CROSS_CURRENCY_SHARE)]
    pub cross_currency_share: f64,
    /// Orders spread evenly over this many days back from now (default: 3 years, most of
    /// them recent).
    #[arg(long)]
    pub history_days: Option<u32>,
    /// Latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of requests answered 429 (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub share_429: f64,
    /// `Retry-After` seconds on those 429s (none if unset).
    #[arg(long)]
    pub retry_after_secs: Option<u64>,
    /// Share of requests answered 500/502/503 (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub share_5xx: f64,
    /// Share of requests whose JSON body is cut short (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub share_truncated: f64,
    /// Share of requests whose connection drops mid-body (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub share_dropped: f64,
    /// Requests per second above which the server answers 429.
    #[arg(long)]
    pub max_rps: Option<f64>,
    /// Report `revenue` as a binary floating-point sum prints it ("398.60636332000007").
    #[arg(long)]
    pub float_revenue: bool,
    /// Convert at exact rates, instead of the API's 8-decimal pair rates with each
    /// converted order rounded to 8 decimals.
    #[arg(long)]
    pub exact_rates: bool,
}

impl SimArgs {
    /// The options these flags describe.
    pub fn options(&self) -> SimOptions {
        SimOptions {
            seed: self.seed,
            bot_id: self.bot_id,
            api_key: self.api_key.clone(),
            bots: self.bots as usize,
            orders: self.orders,
            members: self.members,
            plans: self.plans,
            projects: self.projects,
            coupons: self.coupons,
            leads: self.leads,
            preferred_currency: self.preferred_currency,
            cross_currency_share: self.cross_currency_share,
            history_days: self.history_days,
            faults: FaultOptions {
                latency_ms: self.latency_ms,
                share_429: self.share_429,
                retry_after_secs: self.retry_after_secs,
                retry_after_in_body: false,
                share_5xx: self.share_5xx,
                share_truncated: self.share_truncated,
                share_dropped: self.share_dropped,
                share_ok_false_200: 0.0,
                max_rps: self.max_rps,
                ..FaultOptions::default()
            },
            quirks: Quirks {
                float_revenue: self.float_revenue,
                exact_rates: self.exact_rates,
                ..Quirks::default()
            },
        }
    }
}

/// Starts the simulator on 127.0.0.1:`port`, prints where, and serves until Ctrl-C.
pub(crate) async fn run(args: SimArgs) -> Result<(), SimError> {
    let opts = args.options();
    opts.validate()?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let bots = opts.bot_list();
    for id in args.revoked_bot.iter().chain(&args.down_bot) {
        if !bots.iter().any(|b| b.bot_id == *id) {
            return Err(SimError::InvalidOption(format!(
                "bot {id} is not among the simulated bots ({} from {})",
                bots.len(),
                args.bot_id
            )));
        }
    }
    let mut server = SimServer::start_on(opts, addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })?;
    for handle in &server.handles {
        if args.revoked_bot.contains(&handle.bot_id()) {
            handle.revoke_key(401);
        }
        if args.down_bot.contains(&handle.bot_id()) {
            handle.set_down(true);
        }
    }
    // The simulator's keys are its own fake ones, printed so a demo can use them.
    if bots.len() == 1 {
        println!(
            "tgm-sync simulator listening on {} (bot_id {}, api_key {})",
            server.base_url(),
            args.bot_id,
            args.api_key
        );
    } else {
        let last = bots.last().map_or(args.bot_id, |b| b.bot_id);
        println!(
            "tgm-sync simulator listening on {} ({} bots, bot_id {}..={last}; api_key {} for bot {}, \
             {}-<BOT_ID> for the others, e.g. TGM_API_KEY_{last}={}-{last})",
            server.base_url(),
            bots.len(),
            args.bot_id,
            args.api_key,
            args.bot_id,
            args.api_key,
            args.api_key,
        );
    }
    let signal = tokio::select! {
        signal = tokio::signal::ctrl_c() => signal,
        served = server.wait() => return served.map_err(SimError::Serve),
    };
    server.shutdown().await;
    signal.map_err(SimError::Signal)
}
