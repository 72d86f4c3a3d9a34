#include "jobs/pipe_watch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace bv::jobs {

namespace {

void Signal(int efd) {
  const uint64_t one = 1;
  while (::write(efd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

// poll(2) on the fds for `ms` (-1: no limit), again after EINTR; the count ready.
int PollAll(pollfd* fds, nfds_t n, int ms) {
  for (;;) {
    const int r = ::poll(fds, n, ms);
    if (r >= 0 || errno != EINTR) return r;
  }
}

}  // namespace

PipeWatch::PipeWatch(io::ChildProcess* child, int grace_s) : child_(child), grace_s_(grace_s) {
  // Without pidfds (a kernel before 5.3) or out of descriptors: no watch, as before there was one.
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, child->pid(), 0));
  stop_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  done_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (pidfd_ < 0 || stop_ < 0 || done_ < 0) {
    for (int* fd : {&pidfd_, &stop_, &done_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
    return;
  }
  thread_ = std::thread(&PipeWatch::Watch, this);
}

PipeWatch::~PipeWatch() {
  if (thread_.joinable()) {
    Signal(done_);
    thread_.join();
  }
  for (int fd : {pidfd_, stop_, done_}) {
    if (fd >= 0) ::close(fd);
  }
}

void PipeWatch::Watch() {
  pollfd exit_or_done[2] = {{pidfd_, POLLIN, 0}, {done_, POLLIN, 0}};
  if (PollAll(exit_or_done, 2, -1) < 0 || exit_or_done[1].revents != 0) return;
  pollfd done[1] = {{done_, POLLIN, 0}};
  if (PollAll(done, 1, grace_s_ * 1000) != 0) return;  // the pipes ended in time
  // The leader is not reaped while its pipes are in use, so its group id is still its group's.
  child_->SignalGroup(SIGKILL);
  expired_ = true;
  Signal(stop_);
}

bool PipeWatch::Wait(int fd, bool write) {
  // Without a watch, poll still waits for the fd: a non-blocking write must not spin.
  pollfd fds[2] = {{fd, static_cast<short>(write ? POLLOUT : POLLIN), 0}, {stop_, POLLIN, 0}};
  if (PollAll(fds, stop_ >= 0 ? 2 : 1, -1) < 0) return true;  // let the read or write itself say what is wrong
  // Once the other end is closed (POLLHUP to a reader, POLLERR to a writer), nothing can hold the
  // pipe: what is left in it is read (or the write fails) even after the grace ran out, so that a
  // bvd slower than the command's exit loses none of its output.
  return fds[1].revents == 0 || (fds[0].revents & (POLLHUP | POLLERR)) != 0;
}

std::string PipeWatch::ExpiredText(const char* pipe) const {
  return child_->name() + " exited, but a process it left behind still held its " + pipe + " open " +
         std::to_string(grace_s_) + " s later (killed, unless it had left the command's process group)";
}

Result<size_t> WatchedInput::Read(char* dst, size_t n) {
  for (;;) {
    if (!watch_->WaitReadable(fd_)) return Status::IOError(watch_->ExpiredText("standard output"));
    const ssize_t got = ::read(fd_, dst, n);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got < 0) return Status::FromErrno("read " + name_, errno);
    return static_cast<size_t>(got);
  }
}

WatchedSink::WatchedSink(int fd, std::string name, PipeWatch* watch) : fd_(fd), name_(std::move(name)), watch_(watch) {
  engine::GrowIfPipe(fd_);
  // A blocking write larger than the room in the pipe would wait for a reader that may never come
  // (a process left behind holding it, not reading): each write takes what fits, and poll waits.
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
}

Status WatchedSink::Write(std::string_view b) {
  while (!b.empty()) {
    if (!watch_->WaitWritable(fd_)) return Status::IOError(watch_->ExpiredText("standard input"));
    const ssize_t n = ::write(fd_, b.data(), b.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return Status::FromErrno("write " + name_, errno);
    b.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace bv::jobs
