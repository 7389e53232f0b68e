//! Adaptive concurrency: how many requests may be in flight, below the configured
//! `concurrency`, learnt from the server's 429s.
//!
//! The window starts at half the maximum and, until the first rejection, grows by one for
//! each request the server admits (its 2xx status, which a streaming server sends before the
//! answer): a server without limits is at the maximum within the first few requests, while a
//! first burst does not send everything at once. A 429, or a 503 with `Retry-After`, cuts it
//! to the requests the server is serving (admitted and not yet complete), which is what it
//! admits, or to half when it serves none, never below 1. Only a request sent under the
//! current window cuts it: the other rejections of a burst were answered by that cut (one cut
//! per burst, as TCP cuts once per window of losses). From then on it grows by one only after
//! a run of completed requests (four windows' worth), and the run doubles each time a probe
//! above the limit is rejected, so that a steady limit costs few 429s.
//!
//! A request counts as admitted at its 2xx status or, whichever comes first, once it has gone
//! unrefused for [`Pace::admit_after`] (twice the slowest 429 seen, 100 ms before any): a
//! server that sends its status only with the first token (a plain non-streaming server, a
//! buffering proxy) would otherwise keep the window at half for a whole answer. The window a
//! run ends with, once a limit was found, can start the next run ([`Learnt`]).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// The window shared by every request of a client.
pub struct Pace {
    max: usize,
    permits: Semaphore,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    window: usize,
    /// Admitted by the server and not complete.
    serving: usize,
    /// Counts the cuts: a request sent before the last one asked under a larger window.
    epoch: u64,
    /// Permits to retire as they come back: the window was cut below what was lent out.
    debt: usize,
    /// No rejection yet: grow on every admission.
    slow_start: bool,
    /// Successes since the last change.
    streak: usize,
    /// The window was grown since the last cut: a rejection now is a failed probe.
    probing: bool,
    /// Each failed probe doubles the successes the next growth waits for.
    failed_probes: u32,
    /// No request goes out before this: the server refused one sent alone.
    quiet_until: Option<Instant>,
    /// The longest a 429 took to come back.
    slowest_refusal: Duration,
    /// Each request in flight: its number and when it was sent.
    flying: Vec<(u64, Instant)>,
    /// Numbers the next request.
    next: u64,
}

/// What a run learnt of a server's limit, to start the next run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Learnt {
    /// The window when the run ended.
    pub window: usize,
    /// The longest a 429 took, in milliseconds.
    pub refusal_ms: u64,
}

/// One request's place in the window; dropping it without [`Permit::succeeded`] or
/// [`Permit::limited`] (a failure of another kind) leaves the window as it is.
pub struct Permit<'a> {
    pace: &'a Pace,
    permit: Option<SemaphorePermit<'a>>,
    admitted: AtomicBool,
    epoch: u64,
    sent: Instant,
    seq: u64,
}

/// What a rejection did to the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// The window changed when this request was admitted.
    pub change: Option<Change>,
    /// The retry may go as soon as the window has room: this rejection cut it, a cut since
    /// the request went out answered it, or other requests in flight will free a place.
    /// Otherwise only a backoff delay helps.
    pub wait_for_place: bool,
}

/// A change of the window, for `-v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Requests allowed in flight before.
    pub from: usize,
    /// And after.
    pub to: usize,
}

impl Pace {
    /// A window below `max` (at least 1).
    pub fn new(max: usize) -> Pace {
        let max = max.max(1);
        let window = max.div_ceil(2);
        Pace {
            max,
            permits: Semaphore::new(window),
            state: Mutex::new(State {
                window,
                serving: 0,
                epoch: 0,
                debt: 0,
                slow_start: true,
                streak: 0,
                probing: false,
                failed_probes: 0,
                quiet_until: None,
                slowest_refusal: Duration::ZERO,
                flying: Vec::new(),
                next: 0,
            }),
        }
    }

    /// A window below `max` that starts where a run against the same server ended: past the
    /// slow start, at the limit it found; growth probes above it again after a run of
    /// successes, so the window climbs back when the limit has gone.
    pub fn resuming(max: usize, learnt: Learnt) -> Pace {
        let pace = Pace::new(max);
        {
            let mut s = pace.lock();
            let window = learnt.window.clamp(1, pace.max);
            if window > s.window {
                pace.permits.add_permits(window - s.window);
            } else {
                pace.permits.forget_permits(s.window - window);
            }
            s.window = window;
            s.slow_start = false;
            s.slowest_refusal = Duration::from_millis(learnt.refusal_ms.min(10_000));
        }
        pace
    }

    /// What this run learnt, once the server refused a request for its limit; none while it
    /// never did (the next run starts afresh).
    pub fn learnt(&self) -> Option<Learnt> {
        let s = self.lock();
        (!s.slow_start).then(|| Learnt {
            window: s.window,
            refusal_ms: s.slowest_refusal.as_millis() as u64,
        })
    }

    /// How long a request may go unrefused before it counts as admitted.
    pub fn admit_after(&self) -> Duration {
        let slowest = self.lock().slowest_refusal;
        if slowest.is_zero() {
            Duration::from_millis(100)
        } else {
            (2 * slowest).clamp(Duration::from_millis(20), Duration::from_secs(5))
        }
    }

    /// The current window.
    pub fn window(&self) -> usize {
        self.lock().window
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds every request back for `delay`: the server refused one sent alone (a
    /// rejection without [`Limited::wait_for_place`]), so it refuses any other sent now too,
    /// one after another as each rejection frees the only place.
    pub fn hold(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut s = self.lock();
        s.quiet_until = Some(s.quiet_until.map_or(until, |u| u.max(until)));
    }

    /// Waits for a place in the window (and for the end of a [`Pace::hold`]).
    pub async fn acquire(&self) -> Permit<'_> {
        let permit = self.permits.acquire().await.expect("the semaphore is never closed");
        loop {
            let until = self.lock().quiet_until.filter(|u| *u > Instant::now());
            match until {
                Some(u) => tokio::time::sleep_until(u).await,
                None => break,
            }
        }
        let mut s = self.lock();
        let (seq, sent) = (s.next, Instant::now());
        s.next += 1;
        s.flying.push((seq, sent));
        Permit {
            pace: self,
            permit: Some(permit),
            admitted: AtomicBool::new(false),
            epoch: s.epoch,
            sent,
            seq,
        }
    }

    fn grow(&self, s: &mut State) -> Option<Change> {
        if s.window >= self.max {
            return None;
        }
        let from = s.window;
        s.window += 1;
        s.streak = 0;
        s.probing = !s.slow_start;
        if s.debt > 0 {
            s.debt -= 1;
        } else {
            self.permits.add_permits(1);
        }
        Some(Change { from, to: s.window })
    }
}

impl Permit<'_> {
    /// The server admitted the request (a 2xx status): in the slow start the window grows.
    pub fn admitted(&self) -> Option<Change> {
        if self.admitted.swap(true, Ordering::Relaxed) {
            return None;
        }
        let mut s = self.pace.lock();
        s.serving += 1;
        if s.slow_start { self.pace.grow(&mut s) } else { None }
    }

    /// The request completed: after a run of them the window may grow.
    pub fn succeeded(mut self) -> Option<Change> {
        let mut change = self.admitted();
        let pace = self.pace;
        let mut s = pace.lock();
        s.streak += 1;
        let run = (4 * s.window) << s.failed_probes;
        if !s.slow_start && s.streak >= run {
            change = pace.grow(&mut s);
        }
        self.release(&mut s);
        change
    }

    /// The server refused the request for its rate limit: the window is cut. Also says
    /// whether the retry can wait for a place rather than for a backoff delay.
    pub fn limited(mut self) -> Limited {
        let pace = self.pace;
        let mut s = pace.lock();
        s.slowest_refusal = s.slowest_refusal.max(self.sent.elapsed());
        let from = s.window;
        let others = s.flying.len() - 1;
        // What the server serves: the requests it admitted, and those sent before this one
        // and not refused (it refused this one, so it had taken them), whether or not their
        // status has come (a server may send it only with the first token). Not this one,
        // taken for admitted while its 429 was on the way.
        let serving = s.serving - usize::from(*self.admitted.get_mut());
        let earlier = s
            .flying
            .iter()
            .filter(|(seq, sent)| *seq != self.seq && *sent < self.sent)
            .count();
        let serving = serving.max(earlier);
        let mut change = None;
        let stale = self.epoch != s.epoch;
        if !stale {
            // With nothing being served there is nothing to measure the limit by: halve.
            // Refused while the server serves the whole window: the request raced the cut
            // (tokio grants a growth's permit to a waiter before its task reads the epoch),
            // and the window is right.
            let to = if serving > 0 { serving } else { from / 2 }.max(1);
            if to < from {
                s.window = to;
                s.epoch += 1;
                let cut = from - to;
                let retired = pace.permits.forget_permits(cut);
                s.debt += cut - retired;
                change = Some(Change { from, to });
            }
            if s.probing {
                s.failed_probes = (s.failed_probes + 1).min(4);
            }
            s.probing = false;
            s.streak = 0;
        }
        s.slow_start = false;
        self.release(&mut s);
        Limited {
            change,
            wait_for_place: change.is_some() || stale || others > 0,
        }
    }

    fn release(&mut self, s: &mut State) {
        if let Some(p) = self.permit.take() {
            s.flying.retain(|(seq, _)| *seq != self.seq);
            if *self.admitted.get_mut() {
                s.serving -= 1;
            }
            if s.debt > 0 {
                s.debt -= 1;
                p.forget();
            }
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.permit.is_some() {
            let pace = self.pace;
            let mut s = pace.lock();
            self.release(&mut s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that admits `limit` at once and answers 429 beyond, at once, driven in
    /// waves of one answer time: everything the window has room for is sent together and
    /// answered in order (an admission or a 429), then the admitted ones complete. Returns
    /// the requests sent in each wave and the rejections.
    async fn waves(max: usize, limit: usize, successes: usize) -> (Vec<usize>, usize) {
        let pace = Pace::new(max);
        let (mut done, mut refused, mut sent) = (0, 0, Vec::new());
        while done < successes {
            let (mut serving, mut wave) = (Vec::new(), 0);
            loop {
                let room = pace.permits.available_permits().min(successes - done - serving.len());
                if room == 0 {
                    break;
                }
                let burst: Vec<_> = futures_util::future::join_all((0..room).map(|_| pace.acquire())).await;
                wave += burst.len();
                for p in burst {
                    if serving.len() < limit {
                        p.admitted();
                        serving.push(p);
                    } else {
                        p.limited();
                        refused += 1;
                    }
                }
            }
            done += serving.len();
            serving.into_iter().for_each(|p| {
                p.succeeded();
            });
            sent.push(wave);
        }
        (sent, refused)
    }

    #[tokio::test]
    async fn a_server_without_limits_gets_the_maximum_in_the_first_wave() {
        for max in [1, 8, 16] {
            let (sent, refused) = waves(max, 100, 64).await;
            assert_eq!(refused, 0);
            assert!(sent.iter().all(|&n| n == max), "{max}: {sent:?}");
        }
    }

    #[tokio::test]
    async fn a_concurrency_limit_is_found_and_probed_rarely() {
        let (sent, refused) = waves(16, 4, 64).await;
        // The first burst of 8 costs 4 rejections; after that a probe now and then.
        assert_eq!(sent[0], 8, "{sent:?}");
        assert!(refused <= 7, "{refused} rejections: {sent:?}");
        assert!(sent[1..].iter().all(|w| (4..=5).contains(w)), "{sent:?}");
    }

    #[tokio::test]
    async fn rejections_with_nothing_else_in_flight_halve_down_to_one() {
        let pace = Pace::new(16);
        let mut windows = Vec::new();
        for _ in 0..5 {
            let p = pace.acquire().await;
            p.limited();
            windows.push(pace.window());
        }
        assert_eq!(windows, [4, 2, 1, 1, 1]);
    }

    #[tokio::test]
    async fn a_cut_below_what_is_lent_out_retires_permits_as_they_return() {
        let pace = Pace::new(12);
        let held: Vec<_> = futures_util::future::join_all((0..6).map(|_| pace.acquire())).await;
        let mut held = held.into_iter();
        // The server serves none of them: halved, and once only for the six.
        held.next().unwrap().limited();
        assert_eq!(pace.window(), 3);
        held.next().unwrap().limited();
        assert_eq!(pace.window(), 3);
        drop(held);
        assert_eq!(pace.permits.available_permits(), 3);
        // Growth after a cut waits for a run of successes.
        for _ in 0..11 {
            pace.acquire().await.succeeded();
        }
        assert_eq!(pace.window(), 3);
        assert_eq!(pace.acquire().await.succeeded(), Some(Change { from: 3, to: 4 }));
        assert_eq!(pace.permits.available_permits(), 4);
    }

    #[tokio::test]
    async fn a_burst_of_rejections_cuts_once_for_the_burst() {
        // The benchmark's slow runs (`-v`): 8 sent, 4 admitted (the window grows to 12 and 4
        // more go), then 8 rejections in a row took the window down one by one to 1.
        let pace = Pace::new(16);
        let mut burst: Vec<_> = futures_util::future::join_all((0..8).map(|_| pace.acquire())).await;
        let mut served: Vec<_> = burst.drain(..4).collect();
        served.iter().for_each(|p| {
            p.admitted();
        });
        assert_eq!(pace.window(), 12);
        burst.extend(futures_util::future::join_all((0..4).map(|_| pace.acquire())).await);
        for p in burst {
            p.limited();
        }
        // Cut once, to the 4 the server is serving.
        assert_eq!(pace.window(), 4);
        // Refused while 3 are served (one completed first): sent under the window of 4, so it
        // counts.
        served.pop().unwrap().succeeded();
        let probe = pace.acquire().await;
        assert_eq!(probe.limited().change, Some(Change { from: 4, to: 3 }));
        served.into_iter().for_each(|p| {
            p.succeeded();
        });
        assert_eq!(pace.window(), 3);
    }

    #[tokio::test]
    async fn a_request_granted_before_a_cut_does_not_cut_again() {
        let pace = Pace::new(8);
        let mut held: Vec<_> = futures_util::future::join_all((0..4).map(|_| pace.acquire())).await;
        for p in &held[..3] {
            p.admitted();
        }
        held.extend(futures_util::future::join_all((0..3).map(|_| pace.acquire())).await);
        assert_eq!(pace.window(), 7);
        let late = pace.acquire();
        tokio::pin!(late);
        assert!(futures_util::poll!(late.as_mut()).is_pending());
        // The fourth admission grows the window: its permit goes to the waiting request.
        held[3].admitted();
        let refused: Vec<_> = held.drain(4..).collect();
        for p in refused {
            p.limited();
        }
        assert_eq!(pace.window(), 4);
        // It went out after the cut, beyond the window, and is refused with 4 served.
        assert_eq!(late.await.limited().change, None);
        assert_eq!(pace.window(), 4);
    }

    #[tokio::test]
    async fn a_rejection_the_last_cut_answered_retries_at_once() {
        // tests/draft_cli.rs found it: such a retry went to a backoff of seconds.
        let pace = Pace::new(8);
        let (a, b) = (pace.acquire().await, pace.acquire().await);
        assert!(a.limited().change.is_some());
        let late = b.limited();
        assert_eq!((late.change, late.wait_for_place), (None, true));
        // Nothing in flight and no cut behind it: only a backoff delay helps.
        let alone = pace.acquire().await.limited();
        assert_eq!(alone.change, Some(Change { from: 2, to: 1 }));
        let alone = pace.acquire().await.limited();
        assert_eq!((alone.change, alone.wait_for_place), (None, false));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_keeps_every_request_back_for_its_delay() {
        // tests/draft_cli.rs against a server that counts a request 10 ms past its answer:
        // three waiting requests went one after another into the same refusal.
        let pace = Pace::new(2);
        let l = pace.acquire().await.limited();
        assert!(!l.wait_for_place);
        let start = Instant::now();
        pace.hold(Duration::from_millis(300));
        pace.hold(Duration::from_millis(100));
        let p = pace.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(300));
        drop(p);
        let start = Instant::now();
        drop(pace.acquire().await);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_cut_counts_what_the_server_took_before_its_status_came() {
        // A server that sends its status only with the first token, serving 6: none of the
        // 8 sent has its status when the 7th is refused; the 6 sent before it are served.
        let pace = Pace::new(16);
        let mut sent: Vec<_> = Vec::new();
        for _ in 0..8 {
            sent.push(pace.acquire().await);
        }
        let mut sent = sent.into_iter();
        let taken: Vec<_> = sent.by_ref().take(6).collect();
        sent.next().unwrap().limited();
        assert_eq!(pace.window(), 6, "not halved to 4, nor cut to the 0 whose status came");
        drop(taken);
    }

    #[tokio::test]
    async fn a_run_resumes_at_the_window_the_last_one_learnt() {
        let fresh = Pace::new(16);
        assert_eq!(
            (fresh.window(), fresh.learnt()),
            (8, None),
            "no limit met: nothing to keep"
        );
        assert_eq!(fresh.admit_after(), Duration::from_millis(100));
        fresh.acquire().await.limited();
        assert_eq!(fresh.learnt().map(|l| l.window), Some(4));

        let pace = Pace::resuming(
            16,
            Learnt {
                window: 4,
                refusal_ms: 30,
            },
        );
        assert_eq!((pace.window(), pace.permits.available_permits()), (4, 4));
        assert_eq!(pace.admit_after(), Duration::from_millis(60));
        // Past the slow start: an admission does not grow it, a run of successes does.
        let p = pace.acquire().await;
        assert_eq!(p.admitted(), None);
        p.succeeded();
        for _ in 0..15 {
            pace.acquire().await.succeeded();
        }
        assert_eq!(pace.window(), 5, "it climbs back when the limit has gone");
        assert_eq!(
            Pace::resuming(
                16,
                Learnt {
                    window: 40,
                    refusal_ms: 0
                }
            )
            .window(),
            16
        );
    }
}
