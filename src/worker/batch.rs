//! Many operations' store calls, one blocking call per batch.
//!
//! Each operation reads its connection, takes its lease, and writes its
//! outcome. Done one by one, a bulk refresh paid a thread hand-off and a
//! commit for each: more than the HTTP request itself. A [`Batcher`] queues
//! the calls of every task and runs whatever has queued as one store call on
//! the blocking pool — the store commits a batch of writes at once — while
//! the next batch queues behind it. A lone call goes straight through, so an
//! operator's single refresh waits no longer than before.

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use crate::domain::OpError;
use crate::store::StoreError;

/// The most calls one store call carries; bounds how long one batch holds
/// the store's write lock.
pub(crate) const MAX_BATCH: usize = 256;

type Reply<O> = oneshot::Sender<Result<O, StoreError>>;
/// One blocking store call for a batch: one answer per input, in order.
type Run<I, O> = Arc<dyn Fn(Vec<I>) -> Vec<Result<O, StoreError>> + Send + Sync>;

pub(crate) struct Batcher<I, O> {
    run: Run<I, O>,
    /// Started on first use, inside the runtime that uses it; the loop ends
    /// when the batcher is dropped.
    queue: OnceLock<mpsc::UnboundedSender<(I, Reply<O>)>>,
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// `run` answers each input in order, one answer per input.
    pub(crate) fn new(
        run: impl Fn(Vec<I>) -> Vec<Result<O, StoreError>> + Send + Sync + 'static,
    ) -> Self {
        Self {
            run: Arc::new(run),
            queue: OnceLock::new(),
        }
    }

    pub(crate) async fn call(&self, input: I) -> Result<O, OpError> {
        self.call_store(input).await.map_err(OpError::from)
    }

    /// [`Batcher::call`] with the store's own error, for a caller that
    /// tells a failure that may pass from one that will not.
    pub(crate) async fn call_store(&self, input: I) -> Result<O, StoreError> {
        let (reply, answer) = oneshot::channel();
        let queue = self.queue.get_or_init(|| self.start());
        if queue.send((input, reply)).is_err() {
            return Err(stopped());
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    fn start(&self) -> mpsc::UnboundedSender<(I, Reply<O>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(drain(rx, self.run.clone()));
        tx
    }
}

async fn drain<I: Send + 'static, O: Send + 'static>(
    mut rx: mpsc::UnboundedReceiver<(I, Reply<O>)>,
    run: Run<I, O>,
) {
    let mut pending = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut pending, MAX_BATCH).await > 0 {
        let (inputs, replies): (Vec<I>, Vec<Reply<O>>) = pending.drain(..).unzip();
        let n = inputs.len();
        let run = run.clone();
        let outs = match tokio::task::spawn_blocking(move || run(inputs)).await {
            Ok(outs) if outs.len() == n => outs,
            other => {
                let why = match other {
                    Ok(_) => "lost answers",
                    Err(_) => "stopped unexpectedly",
                };
                (0..n)
                    .map(|_| Err(StoreError::Io(format!("a store batch {why}"))))
                    .collect()
            }
        };
        for (reply, out) in replies.into_iter().zip(outs) {
            // A caller that stopped waiting (a cancelled task) needs no answer.
            let _ = reply.send(out);
        }
    }
}

pub(crate) fn stopped() -> StoreError {
    StoreError::Io("the store task stopped unexpectedly".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_that_queue_behind_a_batch_go_as_one_and_each_gets_its_own_answer() {
        let batches = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let seen = batches.clone();
        let batcher = Arc::new(Batcher::new(move |inputs: Vec<u32>| {
            seen.lock().unwrap().push(inputs.clone());
            std::thread::sleep(std::time::Duration::from_millis(20));
            inputs
                .into_iter()
                .map(|i| match i {
                    0 => Err(StoreError::Io("row 0 is unreadable".into())),
                    n => Ok(n * 10),
                })
                .collect()
        }));
        // The first call runs alone; the 600 sent while it runs queue up.
        let first = {
            let b = batcher.clone();
            tokio::spawn(async move { b.call(1).await })
        };
        while batches.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let rest: Vec<_> = (0..600)
            .map(|i| {
                let b = batcher.clone();
                tokio::spawn(async move { (i, b.call(i).await) })
            })
            .collect();
        assert_eq!(first.await.unwrap().unwrap(), 10);
        for task in rest {
            match task.await.unwrap() {
                (0, answer) => assert!(answer.unwrap_err().message.contains("row 0")),
                (n, answer) => assert_eq!(answer.unwrap(), n * 10),
            }
        }
        let batches = batches.lock().unwrap();
        assert_eq!(batches[0], [1]);
        let sizes: Vec<usize> = batches[1..].iter().map(Vec::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 600);
        assert!(sizes.iter().all(|&n| n <= MAX_BATCH), "{sizes:?}");
        assert!(sizes.len() <= 6, "600 queued calls took {sizes:?}");
    }

    #[tokio::test]
    async fn a_batch_that_loses_answers_fails_each_call_instead_of_hanging() {
        let batcher = Batcher::new(|_: Vec<u32>| Vec::<Result<u32, StoreError>>::new());
        let err = batcher.call(7).await.unwrap_err();
        assert!(err.message.contains("lost answers"), "{}", err.message);
    }
}
