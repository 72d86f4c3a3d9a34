#include "tools/bvtool/framed_pusher.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "tools/bvtool/reply_fields.h"

namespace bv::tool {

FramedPusher::FramedPusher(const Remote& remote, std::vector<PushStream> streams, std::string begin_line,
                           uint64_t sync_every)
    : remote_(remote),
      streams_(std::move(streams)),
      begin_line_(std::move(begin_line)),
      file_sync_every_(sync_every != 0 ? sync_every : kFileSyncEvery),
      pipe_sync_every_(sync_every != 0 ? static_cast<size_t>(sync_every) : kPipeSyncEvery) {
  for (const auto& s : streams_) total_ = total_ && s.size ? std::optional<uint64_t>(*total_ + *s.size) : std::nullopt;
}

Result<server::Reply> FramedPusher::Run() {
  Progress progress("push", total_);
  progress_ = &progress;
  int failures = 0;
  for (;;) {
    auto r = Attempt();
    if (r.ok()) return r;
    // Only a lost connection is worth a retry; what the server refused stays refused.
    const Status& s = r.status();
    const bool lost = s.code() == Status::Code::kIOError && s.message().rfind("bvd: ", 0) != 0;
    if (!lost || aborted_ || session_.empty() || ++failures > kRetriesMax) return s;
    const int wait_ms = std::min(30000, 500 << std::min(failures, 6));
    std::fprintf(stderr, "\nbvtool: %s; resuming session %s in %.1f s (try %d of %d)\n", s.message().c_str(),
                 session_.c_str(), wait_ms / 1000.0, failures, kRetriesMax);
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
  }
}

Result<server::Reply> FramedPusher::Attempt() {
  BV_ASSIGN_OR_RETURN(auto client, Client::Connect(remote_));
  if (session_.empty()) {
    BV_RETURN_IF_ERROR(client->SendLine(begin_line_));
    BV_ASSIGN_OR_RETURN(server::Reply r, client->ReadReply());
    session_ = FieldText(r, "session");
  } else {
    BV_RETURN_IF_ERROR(Resume(client.get()));
  }
  for (size_t i = acked_stream_; i < streams_.size(); i++) {
    PushStream& s = streams_[i];
    if (!stream_open_) {
      BV_RETURN_IF_ERROR(client->SendLine("STREAM" + (s.name.empty() ? "" : " " + Arg(s.name))));
      stream_open_ = true;
    }
    // Bytes kept from before a reconnect go first, then new ones from the source.
    uint64_t at = acked_offset_;  // the stream offset sent next
    uint64_t since_sync = 0;
    for (;;) {
      auto piece = NextPiece(&s, at);
      if (!piece.ok()) return Abort(client.get(), piece.status());
      const size_t n = *piece;
      if (n == 0) break;
      BV_RETURN_IF_ERROR(client->SendLine("DATA " + std::to_string(n), /*more=*/true));
      if (s.regular()) {
        BV_RETURN_IF_ERROR(client->SendFile(s.fd, s.path, at, n));
      } else {
        BV_RETURN_IF_ERROR(client->Send(std::string_view(kept_.get() + (at - acked_offset_), n)));
      }
      at += n;
      sent_ = std::max(sent_, at);
      since_sync += n;
      progress_->Update(base_ + at);
      if (since_sync >= (s.regular() ? file_sync_every_ : pipe_sync_every_)) {
        BV_RETURN_IF_ERROR(Sync(client.get(), at));
        since_sync = 0;
      }
    }
    BV_RETURN_IF_ERROR(client->SendLine("END"));
    stream_open_ = false;
    base_ += at;
    acked_stream_ = i + 1;
    acked_offset_ = 0;
    kept_len_ = 0;
    sent_ = 0;
    // Synced at every stream's end, so a resume never needs an earlier stream again.
    BV_RETURN_IF_ERROR(Sync(client.get(), 0));
  }
  BV_RETURN_IF_ERROR(client->SendLine("COMMIT"));
  return client->ReadReply();
}

Status FramedPusher::Resume(Client* client) {
  BV_RETURN_IF_ERROR(client->SendLine("RESUME " + session_));
  BV_ASSIGN_OR_RETURN(server::Reply r, client->ReadReply());
  const size_t done = FieldNumber(r, "streams");
  const bool open = FieldText(r, "open") == "1";
  const uint64_t offset = FieldNumber(r, "offset");
  if (done < acked_stream_ || done > acked_stream_ + 1 ||
      (done == acked_stream_ && (open ? offset < acked_offset_ : acked_offset_ > 0))) {
    return Status::Corruption("the server's session is at stream " + std::to_string(done) + " offset " +
                              std::to_string(offset) + ", not where this push last synced");
  }
  if (done > acked_stream_) {  // it had ended our stream before the connection went
    base_ += sent_;  // it had all of the stream
    acked_stream_ = done;
    acked_offset_ = 0;
    kept_len_ = 0;
    sent_ = 0;
    stream_open_ = false;
  } else if (open) {
    if (offset > sent_) {
      return Status::Corruption("the server's session is at offset " + std::to_string(offset) +
                                ", past what this push sent");
    }
    if (!streams_[acked_stream_].regular()) {  // drop what the server had synced
      const size_t synced = offset - acked_offset_;
      std::memmove(kept_.get(), kept_.get() + synced, kept_len_ - synced);
      kept_len_ -= synced;
    }
    acked_offset_ = offset;
    stream_open_ = true;
  } else {
    stream_open_ = false;
  }
  return Status::Ok();
}

Result<size_t> FramedPusher::NextPiece(PushStream* s, uint64_t at) {
  if (s->regular()) {
    if (at >= *s->size) {  // the file may have grown since it was last seen
      struct stat st;
      if (::fstat(s->fd, &st) != 0) return Status::FromErrno("stat " + s->path, errno);
      s->size = static_cast<uint64_t>(st.st_size);
      if (at > *s->size) {
        return Status::Corruption(s->path + " shrank to " + std::to_string(*s->size) + " bytes while " +
                                  std::to_string(at) + " were pushed");
      }
    }
    return static_cast<size_t>(std::min<uint64_t>(kFrame, *s->size - at));
  }
  const size_t held = static_cast<size_t>(at - acked_offset_);
  if (held < kept_len_) return std::min(kFrame, kept_len_ - held);
  if (!kept_) kept_.reset(new char[pipe_sync_every_ + kFrame]);  // not zeroed: pages are touched as used
  BV_ASSERT(kept_len_ < pipe_sync_every_);  // a sync empties it before it gets there
  for (;;) {
    ssize_t n = ::read(s->fd, kept_.get() + kept_len_, kFrame);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read " + s->path, errno);
    if (n == 0 && s->at_end) BV_RETURN_IF_ERROR(s->at_end());
    kept_len_ += static_cast<size_t>(n);
    return static_cast<size_t>(n);
  }
}

Status FramedPusher::Sync(Client* client, uint64_t offset) {
  BV_RETURN_IF_ERROR(client->SendLine("SYNC"));
  BV_ASSIGN_OR_RETURN(server::Reply r, client->ReadReply());
  const uint64_t synced = FieldNumber(r, "offset");
  if (FieldText(r, "open") == "1") {
    if (synced != offset) {
      return Status::Corruption("the server synced offset " + std::to_string(synced) + ", not " +
                                std::to_string(offset));
    }
    acked_offset_ = synced;
  }
  kept_len_ = 0;
  return Status::Ok();
}

Status FramedPusher::Abort(Client* client, Status why) {
  aborted_ = true;
  Status s = client->SendLine("ABORT");
  if (s.ok()) s = client->ReadReply().status();
  if (!s.ok()) {  // the session stays at its last sync, uncommitted, until it expires
    std::fprintf(stderr, "bvtool: session %s could not be aborted: %s\n", session_.c_str(), s.ToString().c_str());
  }
  return why;
}

}  // namespace bv::tool
