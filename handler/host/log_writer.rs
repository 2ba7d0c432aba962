//! The host's log lines (JSON on stdout), written in batches by a writer thread.
//!
//! A line is formatted on the thread that logs it and appended to a shared buffer; the writer
//! thread writes the whole buffer with one `write` and then lets lines gather for
//! [`GATHER`] before the next one. Under load that is one `write` per few milliseconds instead of
//! one per line, and the thread that logs never waits for the writer: it wakes it only when the
//! writer is idle. Nothing is dropped: when [`MAX_QUEUED`] bytes are waiting, the thread that
//! logs writes the queue out itself (in order, under the same lock as the writer's writes).
//! [`LogGuard`] writes out what is queued when it is dropped (at shutdown).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// How long lines gather after a write before the next one.
pub const GATHER: Duration = Duration::from_millis(2);

/// Bytes queued at most before the logging thread writes them out itself.
pub const MAX_QUEUED: usize = 8 * 1024 * 1024;

struct Queue {
    bytes: Vec<u8>,
    /// The writer waits for lines (it must be woken for the next one).
    idle: bool,
    closed: bool,
}

struct Shared<W> {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// The output; held while a batch is written, so batches go out in order.
    out: Mutex<W>,
}

impl<W: Write> Shared<W> {
    /// Writes out what is queued, in order with every other batch.
    fn drain(&self) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let batch = std::mem::take(&mut self.queue.lock().unwrap_or_else(PoisonError::into_inner).bytes);
        if !batch.is_empty() {
            // Nowhere to report a failed log write: the line is lost, as with any logger.
            let _ = out.write_all(&batch);
            let _ = out.flush();
        }
    }
}

/// The `MakeWriter` for `tracing_subscriber`: every handle appends to the same queue.
pub struct BatchedWriter<W: Write + Send + 'static> {
    shared: Arc<Shared<W>>,
}

impl<W: Write + Send + 'static> Clone for BatchedWriter<W> {
    fn clone(&self) -> Self {
        Self { shared: Arc::clone(&self.shared) }
    }
}

/// Stops the writer thread when dropped, after it has written out everything queued.
pub struct LogGuard {
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

/// A batched writer to `out` and the guard that writes out what is queued when dropped. `Err`
/// when the writer thread cannot be started.
pub fn batched<W: Write + Send + 'static>(out: W) -> std::io::Result<(BatchedWriter<W>, LogGuard)> {
    let shared = Arc::new(Shared { queue: Mutex::new(Queue { bytes: Vec::new(), idle: false, closed: false }), wake: Condvar::new(), out: Mutex::new(out) });
    let worker = Arc::clone(&shared);
    let thread = std::thread::Builder::new().name("log-writer".into()).spawn(move || {
        loop {
            {
                let mut queue = worker.queue.lock().unwrap_or_else(PoisonError::into_inner);
                while queue.bytes.is_empty() && !queue.closed {
                    queue.idle = true;
                    queue = worker.wake.wait(queue).unwrap_or_else(PoisonError::into_inner);
                }
                queue.idle = false;
                if queue.closed && queue.bytes.is_empty() {
                    return;
                }
            }
            worker.drain();
            std::thread::sleep(GATHER);
        }
    })?;
    let stopping = Arc::clone(&shared);
    let stop = move || {
        stopping.queue.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
        stopping.wake.notify_one();
        let _ = thread.join();
        // Anything logged after the thread ended.
        stopping.drain();
    };
    Ok((BatchedWriter { shared }, LogGuard { stop: Some(Box::new(stop)) }))
}

impl<W: Write + Send + 'static> Write for BatchedWriter<W> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut queue = self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.bytes.extend_from_slice(line);
        if queue.closed {
            // Shutting down: the writer thread may be gone; write it out here.
            drop(queue);
            self.shared.drain();
        } else if queue.bytes.len() >= MAX_QUEUED {
            drop(queue);
            self.shared.drain();
        } else if queue.idle {
            queue.idle = false;
            drop(queue);
            self.shared.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a, W: Write + Send + 'static> tracing_subscriber::fmt::MakeWriter<'a> for BatchedWriter<W> {
    type Writer = BatchedWriter<W>;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` that records every batch it is given.
    #[derive(Clone, Default)]
    struct Batches(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Batches {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_once_in_order_by_the_time_the_guard_is_dropped() {
        let out = Batches::default();
        let (writer, guard) = batched(out.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut w = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        w.write_all(format!("{t} {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap().concat()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2_000, "no line lost or repeated");
        for t in 0..4 {
            let mine: Vec<usize> = lines.iter().filter_map(|l| l.strip_prefix(&format!("{t} "))).map(|i| i.parse().unwrap()).collect();
            assert_eq!(mine, (0..500).collect::<Vec<_>>(), "each thread's lines in the order it wrote them");
        }
    }

    #[test]
    fn a_full_queue_is_written_out_by_the_logging_thread_without_losing_order() {
        let out = Batches::default();
        let (mut writer, guard) = batched(out.clone()).unwrap();
        let line = vec![b'x'; MAX_QUEUED / 4];
        for _ in 0..10 {
            writer.write_all(&line).unwrap();
            writer.write_all(b"\n").unwrap();
        }
        drop(guard);
        let written: usize = out.0.lock().unwrap().iter().map(Vec::len).sum();
        assert_eq!(written, 10 * (line.len() + 1));
    }

    #[test]
    fn lines_logged_after_shutdown_are_still_written() {
        let out = Batches::default();
        let (mut writer, guard) = batched(out.clone()).unwrap();
        writer.write_all(b"before\n").unwrap();
        drop(guard);
        writer.write_all(b"after\n").unwrap();
        assert_eq!(out.0.lock().unwrap().concat(), b"before\nafter\n");
    }
}
