#include "engine/volume.h"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "base/time_format.h"
#include "engine/put_options.h"
#include "io/disk_space.h"

namespace bv::engine {

namespace {

constexpr char kVolumeFile[] = "/VOLUME";
constexpr char kCleanFile[] = "/CLEAN";
// Present while the index is being rebuilt from the segments: an index left half-built by a
// crash witnesses nothing, so the rebuild starts again.
constexpr char kRebuildFile[] = "/REBUILDING";

// One process at a time: a second one gets Busy, naming the directory.
Result<std::unique_ptr<io::FileLock>> LockDir(io::Env* env, const std::string& dir) {
  auto lock = env->LockFile(dir + "/LOCK");
  if (!lock.ok() && lock.status().code() == Status::Code::kBusy) {
    return Status::Busy(dir + " is in use by another process (" + dir + "/LOCK is locked)");
  }
  return lock;
}

}  // namespace

Status Volume::Init(const std::string& dir, const InitOptions& opts, std::string* key_path) {
  io::Env* env = opts.env ? opts.env.get() : io::SystemEnv();
  if (env->PathExists(dir + kVolumeFile)) return Status::InvalidArgument(dir + " already holds a volume");
  format::VolumeParams p;
  BV_ASSERT(sodium_init() >= 0);
  randombytes_buf(p.uuid.data(), p.uuid.size());
  p.created_us = NowMicros();
  p.id_algo = opts.id_algo;
  p.cipher = opts.encrypt ? format::Cipher::kXChaCha20Poly1305 : format::Cipher::kNone;
  p.chunk_min = opts.chunk_min;
  p.chunk_avg = opts.chunk_avg;
  p.chunk_max = opts.chunk_max;
  p.segment_size = opts.segment_size;
  if (Status s = format::ValidateVolumeParams(p); !s.ok()) return Status::InvalidArgument(s.message());
  key_path->clear();
  if (opts.encrypt && opts.master_key) {
    p.key_check = DeriveKeys(*opts.master_key, true).check;
  } else if (opts.encrypt) {
    *key_path = KeyPath(opts.key_file, p);
    const std::string abs_dir = std::filesystem::absolute(dir).lexically_normal().string();
    const std::string abs_key = std::filesystem::absolute(*key_path).lexically_normal().string();
    if (abs_key.rfind(abs_dir + "/", 0) == 0) {
      return Status::InvalidArgument("the key file must live outside the volume directory: " + *key_path);
    }
    Key master;
    BV_RETURN_IF_ERROR(CreateMasterKeyFile(env, *key_path, &master));
    p.key_check = DeriveKeys(master, true).check;
  } else {
    p.key_check = RandomKey();  // the master of an unencrypted volume: nothing to hide
  }
  BV_RETURN_IF_ERROR(env->MakeDirs(dir + "/segments", 0755));
  BV_ASSIGN_OR_RETURN(auto index, Index::Open(dir + "/index", true));
  index.reset();
  return env->WriteFileAtomic(dir + kVolumeFile, format::EncodeVolumeFile(p), 0644);
}

Status Volume::LoadKeys(const OpenOptions& opts) {
  if (params_.cipher == format::Cipher::kNone) {
    keys_ = DeriveKeys(params_.key_check, false);
    return Status::Ok();
  }
  if (opts.master_key) {
    VolumeKeys k = DeriveKeys(*opts.master_key, true);
    if (sodium_memcmp(k.check.data(), params_.key_check.data(), k.check.size()) != 0) {
      return Status::InvalidArgument("the given key is not the key of volume " + dir_ + " (" + params_.UuidString() + ")");
    }
    keys_ = k;
    return Status::Ok();
  }
  const std::string path = KeyPath(opts.key_file, params_);
  auto master = LoadMasterKeyFile(env_.get(), path);
  if (!master.ok()) {
    if (!opts.need_key) return Status::Ok();
    return Status::InvalidArgument("volume " + dir_ + " is encrypted and its key could not be read: " +
                                   master.status().message() + " (use --key-file or BV_KEY_FILE)");
  }
  VolumeKeys k = DeriveKeys(*master, true);
  if (sodium_memcmp(k.check.data(), params_.key_check.data(), k.check.size()) != 0) {
    return Status::InvalidArgument("key file " + path + " is not the key of volume " + dir_ + " (" +
                                   params_.UuidString() + ")");
  }
  keys_ = k;
  return Status::Ok();
}

Result<std::unique_ptr<Volume>> Volume::Open(const std::string& dir, const OpenOptions& opts) {
  std::unique_ptr<Volume> v(new Volume());
  v->dir_ = dir;
  v->env_ = opts.env ? opts.env : std::shared_ptr<io::Env>(io::Env::Create(opts.backend));
  io::Env* env = v->env_.get();
  auto bytes = env->ReadSmallFile(dir + kVolumeFile, format::kSegmentHeaderSize);
  if (!bytes.ok()) {
    if (bytes.status().IsNotFound()) return Status::NotFound(dir + " is not a BV volume (no VOLUME file)");
    return bytes.status();
  }
  auto params = format::DecodeVolumeFile(*bytes);
  if (!params.ok()) {
    return Status::Corruption(dir + kVolumeFile + ": " + params.status().message() +
                              " (`bvtool fsck --repair` writes it again from a segment header)");
  }
  v->params_ = *params;
  BV_ASSIGN_OR_RETURN(v->lock_, LockDir(env, dir));
  BV_RETURN_IF_ERROR(v->LoadKeys(opts));
  if (v->keys_) v->codec_ = std::make_unique<BlockCodec>(*v->keys_, opts.zstd_level);
  if (!opts.rebuild_index && env->PathExists(dir + kRebuildFile)) {
    return Status::NotFound("the index of " + dir + " is incomplete: a rebuild did not finish; run `bvtool fsck --rebuild-index`");
  }
  RecoverMode recover = opts.recover;
  if (opts.read_only) recover.truncate_torn_tail = false;  // a reader never changes a segment
  if (opts.rebuild_index) {
    BV_RETURN_IF_ERROR(env->WriteFileAtomic(dir + kRebuildFile, "rebuilding the index\n", 0644));
    std::error_code ec;
    std::filesystem::remove_all(dir + "/index", ec);
    if (ec) return Status::IOError("remove " + dir + "/index: " + ec.message());
    recover.index_is_new = true;
  }
  v->opened_to_read_ = opts.read_only;
  v->files_ = std::make_unique<SegmentFiles>(env, dir + "/segments");
  v->reader_ = std::make_unique<SegmentReader>(v->files_.get());
  const bool clean = env->PathExists(dir + kCleanFile);
  BV_ASSIGN_OR_RETURN(auto segments, v->files_->List());
  if (opts.read_only && clean && !opts.rebuild_index) {
    // Replaying the index's log into memory instead of flushing it to new table files spares a
    // reader most of the open's cost (the first command after a put: 33 -> 19 ms). An index
    // that does not open read-only (an older one missing a column family) takes the path below.
    auto index = Index::Open(dir + "/index", false, /*read_only=*/true);
    if (index.ok()) {
      v->index_ = std::move(*index);
      BV_ASSIGN_OR_RETURN(bool covered, v->IndexCoversTail(segments));
      if (covered) {
        v->read_only_ = true;
        v->lane_ = std::make_unique<AppendLane>(v->index_.get(), static_cast<AppendTarget*>(v.get()));  // writing through it fails
        return v;
      }
      v->index_.reset();
    }
  }
  BV_ASSIGN_OR_RETURN(v->index_, Index::Open(dir + "/index", opts.rebuild_index));
  v->lane_ = std::make_unique<AppendLane>(v->index_.get(), static_cast<AppendTarget*>(v.get()));
  if (clean) {
    // The marker is removed before anything else is written, so a crash from here on is seen.
    BV_RETURN_IF_ERROR(env->RemoveFile(dir + kCleanFile));
    BV_RETURN_IF_ERROR(env->SyncDir(dir));
  }
  bool trusted = false;
  if (clean) {
    BV_ASSIGN_OR_RETURN(trusted, v->IndexCoversTail(segments));
  }
  if (!trusted) {
    BV_RETURN_IF_ERROR(Recover(v->files_.get(), v->params_, v->index_.get(), recover, &v->recovery_, &v->last_segment_,
                               &v->last_state_));
  }
  if (opts.rebuild_index) {
    BV_RETURN_IF_ERROR(env->RemoveFile(dir + kRebuildFile));
    BV_RETURN_IF_ERROR(env->SyncDir(dir));
  }
  BV_RETURN_IF_ERROR(v->ReconcileSegments(recover));
  return v;
}

Status Volume::ReconcileSegments(const RecoverMode& mode) {
  BV_ASSIGN_OR_RETURN(auto files, files_->List());
  const std::set<uint64_t> present(files.begin(), files.end());
  uint64_t highest = files.empty() ? 0 : files.back();
  std::vector<uint64_t> missing;
  std::vector<uint64_t> retired;
  BV_RETURN_IF_ERROR(index_->ForEachSegment([&](uint64_t n, const SegmentState& state) {
    highest = std::max(highest, n);
    if (state.retired) {
      retired.push_back(n);
    } else if (!present.count(n)) {
      missing.push_back(n);
    }
    return Status::Ok();
  }));
  // A number once used is never used again, so nothing the index says of a lost segment can
  // be taken for a new one's.
  next_segment_min_ = highest + 1;
  // [CMP-5] A compaction that died after retiring a segment left its file, or its state, behind.
  if (!opened_to_read_ && !read_only_) {
    std::vector<uint64_t> left;
    for (uint64_t n : retired) {
      if (present.count(n)) left.push_back(n);
    }
    // A volume that cannot remove them (a damaged RETIRED) still opens; compaction says why.
    if (Status s = RemoveRetired(left); !s.ok()) {
      for (uint64_t n : left) recovery_.notes.push_back(SegmentFiles::Name(n) + " is retired but stays: " + s.message());
    }
  }
  for (uint64_t n : missing) {
    const Status lost = Status::Corruption(SegmentFiles::Name(n) + " is in the index but its file is missing");
    if (mode.stop_at_damage) return lost;
    recovery_.notes.push_back(lost.message());
    recovery_.damaged = true;
    if (!opened_to_read_) {
      uint64_t count = 0;
      BV_RETURN_IF_ERROR(QuarantineBeyond(index_.get(), n, 0, &count));
      if (count > 0) recovery_.notes.push_back(SegmentFiles::Name(n) + ": its " + std::to_string(count) +
                                " chunk(s) quarantined; the next backups that hold them store them again");
    }
  }
  return Status::Ok();
}

Status Volume::KeepDiskReserve(uint64_t reserve, uint64_t bytes) {
  std::lock_guard lock(space_mu_);
  const uint64_t after = written_since_ + bytes;
  if (space_seen_ && after <= kDiskReserveCheckBytes && free_seen_ >= after && free_seen_ - after >= reserve) {
    written_since_ = after;
    return Status::Ok();
  }
  BV_ASSIGN_OR_RETURN(io::DiskSpace space, io::SpaceOf(dir_));
  free_seen_ = space.free;
  written_since_ = 0;
  space_seen_ = true;
  if (free_seen_ < bytes || free_seen_ - bytes < reserve) {
    return Status::NoSpace("the disk of " + dir_ + " has " + std::to_string(free_seen_) + " bytes free: writing " +
                           std::to_string(bytes) + " more would leave less than the " + std::to_string(reserve) +
                           " kept for prune and compaction to free space with");
  }
  written_since_ = bytes;
  return Status::Ok();
}

void Volume::Fence(const std::vector<uint64_t>& segments) {
  std::lock_guard lock(fence_mu_);
  fenced_ = segments;
  std::sort(fenced_.begin(), fenced_.end());
  any_fenced_.store(!fenced_.empty(), std::memory_order_release);
}

bool Volume::Fenced(uint64_t segment) {
  // Every deduplicated chunk asks: without a compaction running, no lock. A put that began
  // before the fence may miss it here, which is why compaction waits for those (CMP-2).
  if (!any_fenced_.load(std::memory_order_acquire)) return false;
  std::lock_guard lock(fence_mu_);
  return std::binary_search(fenced_.begin(), fenced_.end(), segment);
}

Status Volume::RepairVolumeFile(const std::string& dir, std::string* what, io::Env* env) {
  what->clear();
  auto bytes = env->ReadSmallFile(dir + kVolumeFile, format::kSegmentHeaderSize);
  if (bytes.ok() && format::DecodeVolumeFile(*bytes).ok()) return Status::Ok();
  if (!bytes.ok() && !bytes.status().IsNotFound()) return bytes.status();
  SegmentFiles files(env, dir + "/segments");
  BV_ASSIGN_OR_RETURN(auto segments, files.List());
  // The parameters most segment headers hold (a file of another volume copied in among them is
  // outvoted), and the first segment that holds them.
  std::map<std::string, std::pair<int, uint64_t>> votes;  // encoded volume file -> (count, first segment)
  for (uint64_t n : segments) {
    auto file = files.Open(n);
    if (!file.ok()) continue;
    std::string head(format::kSegmentHeaderSize, '\0');
    auto got = (*file)->ReadAt(0, head.data(), head.size());
    if (!got.ok() || *got != head.size()) continue;
    auto header = format::DecodeSegmentHeader(head);
    if (!header.ok() || header->segment_number != n) continue;
    auto [it, fresh] = votes.try_emplace(format::EncodeVolumeFile(header->params), 0, n);
    it->second.first++;
  }
  if (votes.empty()) return Status::Corruption(dir + kVolumeFile + " does not decode and no segment header does either");
  auto best = votes.begin();
  for (auto it = votes.begin(); it != votes.end(); ++it) {
    if (it->second.first > best->second.first) best = it;
  }
  std::string kept;
  if (bytes.ok()) {  // the damaged file is kept, under a name not taken yet
    kept = dir + kVolumeFile + ".damaged";
    for (int n = 2; env->PathExists(kept); n++) kept = dir + kVolumeFile + ".damaged." + std::to_string(n);
    BV_RETURN_IF_ERROR(env->WriteFileAtomic(kept, *bytes, 0644));
  }
  BV_RETURN_IF_ERROR(env->WriteFileAtomic(dir + kVolumeFile, best->first, 0644));
  *what = dir + kVolumeFile + " did not decode; written again from the header of " +
          format::SegmentFileName(best->second.second) + ", which " + std::to_string(best->second.first) + " of " +
          std::to_string(segments.size()) + " segment headers agree with" +
          (kept.empty() ? "" : " (the damaged file is kept as " + kept + ")");
  return Status::Ok();
}

Result<bool> Volume::IndexCoversTail(const std::vector<uint64_t>& segments) {
  if (segments.empty()) return true;
  BV_ASSIGN_OR_RETURN(auto state, index_->GetSegment(segments.back()));
  BV_ASSIGN_OR_RETURN(auto f, files_->Open(segments.back()));
  BV_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  if (!state || state->indexed_through != size) return false;
  last_segment_ = segments.back();
  last_state_ = *state;
  return true;
}

Status Volume::Writable() const {
  if (read_only_) return Status::InvalidArgument("the volume was opened read-only");
  if (recovery_.torn_tail) return Status::InvalidArgument("the volume was opened without cutting its torn tail");
  return Status::Ok();
}

Status Volume::RecoverTail() {
  // Every put that appended through the failed writer has failed, so nothing past what the
  // index records is referenced: cut it (giving a full disk its space back), then recover.
  RecoveryReport report;
  BV_RETURN_IF_ERROR(CutUnindexedTail());
  BV_RETURN_IF_ERROR(Recover(files_.get(), params_, index_.get(), RecoverMode{}, &report, &last_segment_, &last_state_));
  return ReconcileSegments(RecoverMode{});  // a segment removed under the writer
}

Result<std::unique_ptr<SegmentWriter>> Volume::OpenWriter() {
  if (last_segment_ == 0 || last_state_.sealed) {
    const uint64_t number = std::max(last_segment_ + 1, next_segment_min_);
    return SegmentWriter::Open(files_.get(), params_, number, 0, 0);
  }
  return SegmentWriter::Open(files_.get(), params_, last_segment_, last_state_.indexed_through, last_state_.blocks);
}

Status Volume::CutUnindexedTail() {
  BV_ASSIGN_OR_RETURN(std::vector<uint64_t> segments, files_->List());
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    const std::string path = files_->Path(*it);
    BV_ASSIGN_OR_RETURN(auto state, index_->GetSegment(*it));
    if (!state) {
      // Opened by the failed writer after the last state it recorded.
      files_->Forget(*it);
      BV_RETURN_IF_ERROR(env_->RemoveFile(path));
      BV_RETURN_IF_ERROR(env_->SyncDir(files_->dir()));
      continue;
    }
    if (state->sealed) break;
    BV_ASSIGN_OR_RETURN(auto f, env_->Open(path, io::OpenMode::kReadWrite));
    BV_ASSIGN_OR_RETURN(uint64_t size, f->Size());
    if (size > state->indexed_through) {
      BV_RETURN_IF_ERROR(f->Truncate(state->indexed_through));
      BV_RETURN_IF_ERROR(f->DataSync());
    }
    break;
  }
  return Status::Ok();
}

Result<uint64_t> Volume::StoredBytes() {
  std::lock_guard lock(stored_mu_);
  BV_ASSIGN_OR_RETURN(std::vector<uint64_t> segments, files_->List());
  uint64_t total = sealed_run_bytes_;
  bool in_run = true;  // every segment listed so far is sealed and counted
  for (uint64_t n : segments) {
    if (n <= sealed_run_end_) continue;
    BV_ASSIGN_OR_RETURN(uint64_t size, files_->FileSize(n));
    total += size;
    BV_ASSIGN_OR_RETURN(auto state, index_->GetSegment(n));
    in_run = in_run && state && state->sealed;
    if (in_run) {
      sealed_run_end_ = n;
      sealed_run_bytes_ += size;
    }
  }
  return total;
}

Result<bool> Volume::Quarantine(const format::Id& id, const Location& where) {
  if (opened_to_read_ || read_only_) return false;
  BV_ASSIGN_OR_RETURN(auto loc, index_->GetChunk(id));
  if (!loc || *loc != where) return false;
  IndexBatch batch = index_->NewBatch();
  batch.QuarantineChunk(id, where);
  BV_RETURN_IF_ERROR(index_->Write(&batch, true));
  return true;
}

bool Volume::ClaimSession(uint64_t id) {
  std::lock_guard lock(sessions_mu_);
  return live_sessions_.insert(id).second;
}

void Volume::ReleaseSession(uint64_t id) {
  std::lock_guard lock(sessions_mu_);
  live_sessions_.erase(id);
}

Status Volume::Close() {
  if (closed_) return Status::Ok();
  closed_ = true;
  Status s;
  // Everything committed is already durable and indexed; an open writer holds nothing more.
  const bool writer_failed = lane_ && lane_->failed();
  lane_.reset();
  reader_.reset();
  index_.reset();  // flushes RocksDB
  // A read-only open left the marker where it was.
  if (!writer_failed && !read_only_) s = env_->WriteFileAtomic(dir_ + kCleanFile, "clean\n", 0644);
  lock_.reset();
  return s;
}

Volume::~Volume() {
  if (!closed_) {
    // Not closed: no clean marker, so the next open scans the tails.
    lane_.reset();
    reader_.reset();
    index_.reset();
  }
}

}  // namespace bv::engine
