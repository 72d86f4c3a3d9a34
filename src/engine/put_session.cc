#include "engine/put_session.h"

#include <sodium.h>

#include <limits>

#include "base/time_format.h"
#include "engine/ingest.h"
#include "engine/restore.h"
#include "format/name_rules.h"

namespace bv::engine {

namespace {

// Hashes restored bytes: a resumed stream's hash is rebuilt from what is stored.
class HashSink final : public OutputSink {
 public:
  explicit HashSink(StreamHash* h) : h_(h) {}
  Status Write(std::string_view b) override {
    h_->Update(b);
    return Status::Ok();
  }

 private:
  StreamHash* h_;
};

// The session as its next sync point leaves it: what Resume picks up.
format::SessionRecord SessionRecordOf(const Ingest& in) {
  const format::SnapshotRecord& rec = in.record();
  format::SessionRecord s;
  s.id = rec.id;
  s.time_us = rec.time_us;
  s.source = rec.source;
  s.label = rec.label;
  s.done = rec.streams;
  s.in_stream = in.in_stream();
  if (s.in_stream) s.current = in.open_stream();
  s.stored_bytes = rec.stored_bytes;
  s.new_bytes = rec.new_bytes;
  s.updated_us = NowMicros();
  return s;
}

// Picks a session up where its last sync left it. Recipe pieces written after that sync (by an
// intermediate flush) are dropped, to be written again; the open stream's hash is rebuilt from
// the bytes stored so far.
Status ResumeStream(Volume* v, const format::SessionRecord& s, Ingest* in) {
  const uint16_t stream = static_cast<uint16_t>(s.done.size());
  IndexBatch b = v->index()->NewBatch();
  b.DeleteRecipesFrom(s.id, stream, s.in_stream ? s.current.recipe_pieces : 0);
  BV_RETURN_IF_ERROR(v->index()->Write(&b, /*sync=*/true));
  if (!s.in_stream) return Status::Ok();
  BV_RETURN_IF_ERROR(in->StartStream(s.current));
  if (s.current.length == 0) return Status::Ok();
  SnapshotEntry partial;
  partial.record = in->record();
  partial.record.streams.push_back(s.current);
  RestoreOptions ro;
  ro.pool = in->pool();
  ro.stream = stream;
  ro.range = ByteRange{0, s.current.length};
  HashSink sink(in->hash());
  Status rs = Restore(v, partial, ro, &sink);
  if (!rs.ok()) return Status::Corruption("resuming session " + format::SnapshotIdHex(s.id) + ": " + rs.message());
  return Status::Ok();
}

// Drops the session record and the recipe pieces written under its id.
Status ForgetSession(Index* index, uint64_t id) {
  IndexBatch b = index->NewBatch();
  b.DeleteSession(id);
  b.DeleteRecipesFrom(id, 0, 0);
  return index->Write(&b, /*sync=*/true);
}

Result<uint64_t> NewSnapshotId(Index* index) {
  for (;;) {
    uint64_t id = 0;
    randombytes_buf(&id, sizeof id);
    if (id == 0 || id == UINT64_MAX) continue;
    BV_ASSIGN_OR_RETURN(auto existing, index->GetSnapshot(id));
    BV_ASSIGN_OR_RETURN(auto session, index->GetSession(id));
    if (!existing && !session) return id;
  }
}

Result<uint64_t> WriterGeneration(Volume* v) {
  BV_ASSIGN_OR_RETURN(AppendLane::Guard lane, v->lane()->Lock());  // fails early on an unwritable volume
  return lane.generation();
}

}  // namespace

Result<std::unique_ptr<PutSession>> PutSession::Begin(Volume* v, const PutOptions& opts) {
  BV_RETURN_IF_ERROR(format::ValidateSourceName(opts.source));
  BV_RETURN_IF_ERROR(format::ValidateLabel(opts.label, "label"));
  BV_RETURN_IF_ERROR(format::ValidateNewSourceName(opts.source));
  BV_RETURN_IF_ERROR(format::ValidateNewName(opts.label, "label"));
  if (!v->has_keys()) return Status::InvalidArgument("writing needs the volume key");
  BV_ASSIGN_OR_RETURN(uint64_t generation, WriterGeneration(v));
  format::SnapshotRecord rec;
  BV_ASSIGN_OR_RETURN(rec.id, NewSnapshotId(v->index()));
  if (!v->ClaimSession(rec.id)) return Status::Busy("snapshot id collision; try again");
  rec.time_us = opts.time_us.value_or(NowMicros());
  rec.source = opts.source;
  rec.label = opts.label;
  std::unique_ptr<PutSession> s(new PutSession(v));
  s->take_back_ = opts.take_back_on_failure;
  s->date_after_newest_ = opts.date_after_newest;
  s->impl_ = std::make_unique<Ingest>(v, generation, opts, std::move(rec));
  return s;
}

Result<std::unique_ptr<PutSession>> PutSession::Resume(Volume* v, uint64_t id, const PutOptions& opts) {
  if (!v->has_keys()) return Status::InvalidArgument("writing needs the volume key");
  if (!v->ClaimSession(id)) {
    return Status::Busy("session " + format::SnapshotIdHex(id) + " is still running on another connection");
  }
  std::unique_ptr<PutSession> s(new PutSession(v));
  s->claimed_ = id;
  s->take_back_ = opts.take_back_on_failure;
  s->date_after_newest_ = opts.date_after_newest;
  BV_ASSIGN_OR_RETURN(auto rec, v->index()->GetSession(id));
  if (!rec) {
    return Status::NotFound("no session " + format::SnapshotIdHex(id) +
                            " (never synced, or committed, aborted or expired since)");
  }
  BV_ASSIGN_OR_RETURN(uint64_t generation, WriterGeneration(v));
  format::SnapshotRecord snap;
  snap.id = rec->id;
  snap.time_us = rec->time_us;
  snap.source = rec->source;
  snap.label = rec->label;
  snap.streams = rec->done;
  snap.stored_bytes = rec->stored_bytes;
  snap.new_bytes = rec->new_bytes;
  PutOptions o = opts;
  o.source = rec->source;
  o.label = rec->label;
  s->impl_ = std::make_unique<Ingest>(v, generation, o, std::move(snap));
  BV_RETURN_IF_ERROR(ResumeStream(v, *rec, s->impl_.get()));
  return s;
}

PutSession::PutSession(Volume* v) : v_(v), in_puts_(v->puts_gate()) { v_->lane()->BeginPut(); }

PutSession::~PutSession() {
  if (impl_) {
    const bool committed = committed_;
    const uint64_t generation = impl_->generation();
    const uint64_t id = impl_->record().id;
    impl_.reset();
    if (!committed && take_back_) v_->lane()->AbandonPut(generation);
    v_->ReleaseSession(id);
  } else if (claimed_ != 0) {
    v_->ReleaseSession(claimed_);
  }
  v_->lane()->EndPut();
}

uint64_t PutSession::id() const { return impl_->record().id; }
uint16_t PutSession::streams_done() const { return impl_->streams_done(); }
bool PutSession::in_stream() const { return impl_->in_stream(); }
uint64_t PutSession::offset() const { return impl_->offset(); }
Status PutSession::StartStream(const std::string& name) {
  format::StreamInfo at;
  at.name = name;
  return impl_->StartStream(at);
}
Status PutSession::Write(std::string_view bytes) { return impl_->Write(bytes); }
Result<size_t> PutSession::WriteFrom(InputStream* in) { return impl_->WriteFrom(in); }
Status PutSession::WriteMapped(io::MappedFile* m) { return impl_->WriteMapped(m); }
Status PutSession::EndStream() { return impl_->EndStream(); }

// The session record goes in the index batch of the sync point that makes its blocks durable.
Status PutSession::Sync() {
  return impl_->Sync([this](IndexBatch* b) { b->PutSession(SessionRecordOf(*impl_)); });
}

Result<format::SnapshotRecord> PutSession::Commit() {
  BV_RETURN_IF_ERROR(impl_->status());
  if (impl_->in_stream()) return Status::InvalidArgument("a stream is still open");
  const format::SnapshotRecord& rec = impl_->record();
  if (rec.streams.empty()) return Status::InvalidArgument("a snapshot holds 1 to 1024 streams, not 0");
  // [CRASH-1] The commit block follows every block it names; the snapshot is reported once the
  // sync point has made it durable and indexed it.
  BV_RETURN_IF_ERROR(impl_->UnderLane([&](AppendLane::Guard& lane) -> Status {
    if (date_after_newest_) BV_RETURN_IF_ERROR(DateAfterNewest());
    BV_ASSIGN_OR_RETURN(Location loc, lane.Append(format::EncodeSnapshotBlock(format::BlockType::kSnapshotCommit, rec.id,
                                                                              format::EncodeSnapshot(rec))));
    lane.pending()->PutSnapshot(SnapshotEntry{rec, loc});
    lane.pending()->DeleteSession(rec.id);
    return lane.SyncPoint(/*durable=*/true);
  }));
  committed_ = true;
  return rec;
}

// Under the lane: no other commit can come between the look and the commit block.
Status PutSession::DateAfterNewest() {
  const format::SnapshotRecord& rec = impl_->record();
  BV_ASSIGN_OR_RETURN(auto newest, v_->index()->FindAsOf(rec.source, std::numeric_limits<int64_t>::max()));
  if (!newest) return Status::Ok();
  BV_ASSIGN_OR_RETURN(auto e, v_->index()->GetSnapshot(*newest));
  if (e && e->record.time_us >= rec.time_us) impl_->Redate(e->record.time_us + 1);
  return Status::Ok();
}

Status PutSession::Abort() {
  impl_->Stop(Status::InvalidArgument("the session was aborted"));
  return ForgetSession(v_->index(), impl_->record().id);
}

Result<format::SnapshotRecord> Put(Volume* volume, const PutOptions& opts, const std::vector<NamedInput>& streams) {
  if (streams.empty() || streams.size() > format::kStreamsMax) {
    return Status::InvalidArgument("a snapshot holds 1 to 1024 streams, not " + std::to_string(streams.size()));
  }
  for (size_t i = 0; i < streams.size(); i++) {
    BV_RETURN_IF_ERROR(format::ValidateLabel(streams[i].name, "stream name"));
    BV_RETURN_IF_ERROR(format::ValidateNewName(streams[i].name, "stream name"));
    for (size_t k = 0; k < i; k++) {
      if (streams[k].name == streams[i].name) {
        return Status::InvalidArgument("two streams are named '" + streams[i].name + "'; a snapshot's stream names differ");
      }
    }
  }
  BV_ASSIGN_OR_RETURN(auto session, PutSession::Begin(volume, opts));
  for (const NamedInput& in : streams) {
    BV_RETURN_IF_ERROR(session->StartStream(in.name));
    if (io::MappedFile* m = in.input->Mapped()) {
      BV_RETURN_IF_ERROR(session->WriteMapped(m));
    } else {
      for (;;) {
        BV_ASSIGN_OR_RETURN(size_t got, session->WriteFrom(in.input));
        if (got == 0) break;
      }
    }
    BV_RETURN_IF_ERROR(session->EndStream());
  }
  return session->Commit();
}

Status ExpireSessions(Volume* volume, int64_t older_than_us, std::vector<uint64_t>* expired) {
  std::vector<format::SessionRecord> old;
  BV_RETURN_IF_ERROR(volume->index()->ForEachSession([&](const format::SessionRecord& r) {
    if (r.updated_us < older_than_us) old.push_back(r);
    return Status::Ok();
  }));
  for (const auto& r : old) {
    if (!volume->ClaimSession(r.id)) continue;  // someone is resuming it right now
    Status s = ForgetSession(volume->index(), r.id);
    volume->ReleaseSession(r.id);
    BV_RETURN_IF_ERROR(s);
    if (expired) expired->push_back(r.id);
  }
  return Status::Ok();
}

}  // namespace bv::engine
