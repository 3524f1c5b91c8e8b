//! A TCP stream that knows when the kernel received the bytes it last read.
//!
//! A generator that reads hundreds of thousands of deliveries a second on the same two
//! cores as the server reads each one some time after it arrived; timing the read would add
//! the generator's own queueing to the server's latency. With `SO_TIMESTAMPNS` the kernel
//! stamps every packet as it enters the receive path (on loopback: as the server's write
//! hands it over), and `recvmsg` returns the stamp of the last packet a read consumed. A
//! frame's arrival is then the stamp of the read that completed it, which is never earlier
//! than its true arrival.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
use nix::sys::time::TimeSpec;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// A [`TcpStream`] whose reads record the kernel's receive time.
#[derive(Debug)]
pub struct StampedStream {
    inner: TcpStream,
    /// Wall-clock (`CLOCK_REALTIME`) nanoseconds of the last packet read; 0 when the last
    /// read came without a stamp.
    last_arrival_ns: u64,
}

impl StampedStream {
    /// Asks the kernel to stamp the packets `inner` receives.
    ///
    /// Fails when the socket refuses the option.
    pub fn new(inner: TcpStream) -> io::Result<Self> {
        setsockopt(&inner, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)?;
        Ok(Self {
            inner,
            last_arrival_ns: 0,
        })
    }

    /// When the last byte read so far arrived, in nanoseconds of `CLOCK_REALTIME`; 0 before
    /// the first read and after a read without a stamp.
    ///
    /// The kernel switches stamping on for the whole system shortly after the first socket
    /// asks for it (deferred work), so packets in the first moments may come unstamped.
    pub fn last_arrival_ns(&self) -> u64 {
        self.last_arrival_ns
    }

    /// One `recvmsg` into `buf`: the bytes read and the stamp that came with them.
    fn recv_stamped(&self, buf: &mut [u8]) -> io::Result<(usize, Option<u64>)> {
        let mut iov = [IoSliceMut::new(buf)];
        let mut control = nix::cmsg_space!(TimeSpec);
        let message = recvmsg::<()>(
            self.inner.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            MsgFlags::MSG_DONTWAIT,
        )?;
        let stamp = message
            .cmsgs()?
            .find_map(|cmsg| match cmsg {
                ControlMessageOwned::ScmTimestampns(time) => Some(time),
                _ => None,
            })
            .and_then(|time| {
                let nanos = i128::from(time.tv_sec()) * 1_000_000_000 + i128::from(time.tv_nsec());
                u64::try_from(nanos).ok()
            });
        Ok((message.bytes, stamp))
    }
}

impl AsyncRead for StampedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            ready!(this.inner.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            // `try_io` clears the readiness when the read would block, so the next poll
            // waits for new data instead of spinning.
            match this
                .inner
                .try_io(Interest::READABLE, || this.recv_stamped(unfilled))
            {
                Ok((read, stamp)) => {
                    // An unstamped read must not leave an older, earlier stamp behind.
                    this.last_arrival_ns = stamp.unwrap_or(0);
                    buf.advance(read);
                    return Poll::Ready(Ok(()));
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
    }
}

impl AsyncWrite for StampedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Now on `CLOCK_REALTIME`, the clock the kernel's receive stamps are on, in nanoseconds.
pub fn realtime_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Bytes read through the stream arrive intact, stamped between the write and the read.
    #[tokio::test]
    async fn reads_carry_the_kernel_arrival_time() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let mut stamped = StampedStream::new(client).unwrap();
        assert_eq!(stamped.last_arrival_ns(), 0);
        let mut buf = [0u8; 16];

        // Until the kernel has switched stamping on, reads may come unstamped.
        for _ in 0..200 {
            server.write_all(b"warm").await.unwrap();
            stamped.read_exact(&mut buf[..4]).await.unwrap();
            if stamped.last_arrival_ns() != 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }

        let before = realtime_now_ns();
        server.write_all(b"hello").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let read = stamped.read(&mut buf).await.unwrap();
        let after = realtime_now_ns();

        assert_eq!(&buf[..read], b"hello");
        let arrival = stamped.last_arrival_ns();
        assert!(
            arrival >= before && arrival <= after,
            "{before} <= {arrival} <= {after}"
        );
        // The stamp is the arrival, not the read 20 ms later.
        assert!(
            after - arrival >= 15_000_000,
            "read {} ns after arrival",
            after - arrival
        );

        stamped.write_all(b"back").await.unwrap();
        let mut back = [0u8; 4];
        server.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"back");
    }
}
