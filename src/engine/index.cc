#include "engine/index.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <cstring>


namespace bv::engine {

namespace {

using format::BySourceKey;
using format::DecodeLocation;
using format::DecodeRecipeKey;
using format::DecodeRecipeValue;
using format::DecodeSegmentState;
using format::DecodeU64Key;
using format::EncodeLocation;
using format::IdKey;
using format::SegOffKey;

std::string SnapshotKey(uint64_t id) { return format::U64Key(id); }
std::string RecipeKey(uint64_t snapshot, uint16_t stream, uint32_t piece) {
  return format::EncodeRecipeKey({snapshot, stream, piece});
}

// Column families, in the order they are opened.
enum Cf : size_t {
  kDefault, kChunks, kLocations, kSnapshots, kBySource, kRecipes, kSegments, kSessions, kQuarantine, kTombstones,
  kCfCount
};
const char* const kCfNames[kCfCount] = {"default",  "chunks",   "locations", "snapshots",  "by_source",
                                         "recipes", "segments", "sessions",  "quarantine", "tombstones"};

// tombstones: this key (snapshot id 0, which no snapshot has) says that the family was added to
// an index that had deleted snapshots already, so a missing tombstone proves nothing.
const std::string& IncompleteTombstonesKey() {
  static const std::string key = format::U64Key(0);
  return key;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption("index: " + what + ": " + s.ToString());
  if (s.IsNoSpace()) return Status::NoSpace("index: " + what + ": " + s.ToString());
  return Status::IOError("index: " + what + ": " + s.ToString());
}

}  // namespace

void IndexBatch::PutChunk(const format::Id& id, const Location& loc) {
  batch_.Put(index_->cf_[kChunks], IdKey(id), EncodeLocation(loc));
  batch_.Put(index_->cf_[kLocations], SegOffKey(loc.segment, loc.offset), IdKey(id));
}

void IndexBatch::DeleteChunk(const format::Id& id) { batch_.Delete(index_->cf_[kChunks], IdKey(id)); }

void IndexBatch::QuarantineChunk(const format::Id& id, const Location& damaged) {
  batch_.Delete(index_->cf_[kChunks], IdKey(id));
  batch_.Put(index_->cf_[kQuarantine], IdKey(id), EncodeLocation(damaged));
}

void IndexBatch::PutRecipe(uint64_t snapshot, uint16_t stream, uint32_t piece, uint64_t stream_offset,
                           const Location& loc) {
  batch_.Put(index_->cf_[kRecipes], RecipeKey(snapshot, stream, piece), format::EncodeRecipeValue({loc, stream_offset}));
}

void IndexBatch::PutSnapshot(const SnapshotEntry& e) {
  batch_.Put(index_->cf_[kSnapshots], SnapshotKey(e.record.id), format::EncodeSnapshotValue(e.commit, e.record));
  batch_.Put(index_->cf_[kBySource], BySourceKey(e.record.source, e.record.time_us, e.record.id), "");
}

void IndexBatch::DeleteSnapshot(const SnapshotEntry& e, const Location& deletion) {
  const format::SnapshotRecord& r = e.record;
  PutTombstone(r.id, format::Tombstone{e.commit, deletion});
  batch_.Delete(index_->cf_[kSnapshots], SnapshotKey(r.id));
  batch_.Delete(index_->cf_[kBySource], BySourceKey(r.source, r.time_us, r.id));
  batch_.DeleteRange(index_->cf_[kRecipes], RecipeKey(r.id, 0, 0), RecipeKey(r.id + 1, 0, 0));
}

void IndexBatch::PutTombstone(uint64_t id, const format::Tombstone& t) {
  batch_.Put(index_->cf_[kTombstones], SnapshotKey(id), format::EncodeTombstone(t));
}

void IndexBatch::DeleteTombstone(uint64_t id) { batch_.Delete(index_->cf_[kTombstones], SnapshotKey(id)); }

void IndexBatch::DeleteRecipe(uint64_t snapshot, uint16_t stream, uint32_t piece) {
  batch_.Delete(index_->cf_[kRecipes], RecipeKey(snapshot, stream, piece));
}

void IndexBatch::DeleteQuarantined(const format::Id& id) { batch_.Delete(index_->cf_[kQuarantine], IdKey(id)); }

void IndexBatch::ForgetSegmentBlocks(uint64_t number) {
  batch_.DeleteRange(index_->cf_[kLocations], SegOffKey(number, 0), SegOffKey(number + 1, 0));
}

void IndexBatch::PutSession(const format::SessionRecord& r) {
  batch_.Put(index_->cf_[kSessions], SnapshotKey(r.id), format::EncodeSession(r));
}

void IndexBatch::DeleteSession(uint64_t id) { batch_.Delete(index_->cf_[kSessions], SnapshotKey(id)); }

void IndexBatch::DeleteRecipesFrom(uint64_t snapshot, uint16_t stream, uint32_t piece) {
  batch_.DeleteRange(index_->cf_[kRecipes], RecipeKey(snapshot, stream, piece), RecipeKey(snapshot + 1, 0, 0));
}

void IndexBatch::PutSegment(uint64_t number, const SegmentState& s) {
  batch_.Put(index_->cf_[kSegments], SnapshotKey(number), EncodeSegmentState(s));
}

Result<std::unique_ptr<Index>> Index::Open(const std::string& dir, bool create_if_missing, bool read_only) {
  rocksdb::Options opts;
  opts.create_if_missing = create_if_missing;
  // An index from before a column family existed gains it empty (sessions came in version 1.1).
  opts.create_missing_column_families = true;
  opts.max_open_files = 256;
  opts.keep_log_file_num = 4;
  opts.IncreaseParallelism(2);
  // Opening starts this many threads per column family to open table files; the default of 16
  // made every open (every bvtool command) start and stop over a hundred threads.
  opts.max_file_opening_threads = 2;
  // One memtable budget and one block cache for every index in the process: a server holds one
  // volume per tenant, and its index memory must not grow with the number of tenants.
  static const auto write_buffers = std::make_shared<rocksdb::WriteBufferManager>(32 << 20);
  static const auto block_cache = rocksdb::NewLRUCache(64 << 20, -1, false, 0.5);
  opts.write_buffer_manager = write_buffers;
  // Memory stays bounded as the index grows: index and filter blocks live in the block cache, in
  // partitions small enough that a lookup reads only the ones it needs, with the top level pinned.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.block_cache = block_cache;
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  rocksdb::ColumnFamilyOptions cf_opts(opts);
  cf_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_opts.write_buffer_size = 16 << 20;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* name : kCfNames) cfs.emplace_back(name, cf_opts);
  // An index that existed before `tombstones` did may have deleted snapshots it has no tombstone
  // for: it gets the family with the mark that says so.
  std::vector<std::string> existing;
  const bool predates_tombstones =
      rocksdb::DB::ListColumnFamilies(opts, dir, &existing).ok() &&
      std::find(existing.begin(), existing.end(), kCfNames[kTombstones]) == existing.end();
  std::unique_ptr<Index> index(new Index());
  rocksdb::Status s = read_only ? rocksdb::DB::OpenForReadOnly(opts, dir, cfs, &index->cf_, &index->db_)
                                : rocksdb::DB::Open(opts, dir, cfs, &index->cf_, &index->db_);
  if (!s.ok()) {
    if (s.IsInvalidArgument() && !create_if_missing) {
      return Status::NotFound("index " + dir + " is missing or incomplete (" + s.ToString() +
                              "); run `bvtool fsck --rebuild-index`");
    }
    return FromRocks(s, "open " + dir);
  }
  if (predates_tombstones && !read_only) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    BV_RETURN_IF_ERROR(FromRocks(index->db_->Put(wo, index->cf_[kTombstones], IncompleteTombstonesKey(), ""),
                                 "mark tombstones incomplete"));
  }
  return index;
}

Index::~Index() {
  for (auto* h : cf_) db_->DestroyColumnFamilyHandle(h);
  delete db_;
}

Status Index::Write(IndexBatch* b, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return FromRocks(db_->Write(wo, &b->batch_), "write");
}

Result<std::optional<Location>> Index::GetLocation(size_t cf, const format::Id& id, const char* what) {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_[cf], IdKey(id), &v);
  if (s.IsNotFound()) return std::optional<Location>();
  BV_RETURN_IF_ERROR(FromRocks(s, what));
  BV_ASSIGN_OR_RETURN(Location l, DecodeLocation(v));
  return std::optional<Location>(l);
}

Result<std::optional<Location>> Index::GetChunk(const format::Id& id) { return GetLocation(kChunks, id, "get chunk"); }

Result<std::vector<std::optional<Location>>> Index::GetChunks(const std::vector<format::Id>& ids) {
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const format::Id& id : ids) keys.push_back(IdKey(id));
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(ids.size());
  std::vector<rocksdb::Status> statuses(ids.size());
  db_->MultiGet(rocksdb::ReadOptions(), cf_[kChunks], slices.size(), slices.data(), values.data(), statuses.data());
  std::vector<std::optional<Location>> out(ids.size());
  for (size_t i = 0; i < ids.size(); i++) {
    if (statuses[i].IsNotFound()) continue;
    BV_RETURN_IF_ERROR(FromRocks(statuses[i], "get chunks"));
    BV_ASSIGN_OR_RETURN(Location l, DecodeLocation(values[i].ToStringView()));
    out[i] = l;
  }
  return out;
}

Result<std::optional<format::Tombstone>> Index::GetTombstone(uint64_t id) {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_[kTombstones], SnapshotKey(id), &v);
  if (s.IsNotFound()) return std::optional<format::Tombstone>();
  BV_RETURN_IF_ERROR(FromRocks(s, "get tombstone"));
  BV_ASSIGN_OR_RETURN(format::Tombstone t, format::DecodeTombstone(v));
  return std::optional<format::Tombstone>(t);
}

Result<bool> Index::TombstonesComplete() {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_[kTombstones], IncompleteTombstonesKey(), &v);
  if (s.IsNotFound()) return true;
  BV_RETURN_IF_ERROR(FromRocks(s, "get tombstone mark"));
  return false;
}

Status Index::ForEachTombstone(const std::function<Status(uint64_t, const format::Tombstone&)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kTombstones]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key() == IncompleteTombstonesKey()) continue;
    BV_ASSIGN_OR_RETURN(const uint64_t id, DecodeU64Key(it->key().ToStringView()));
    BV_ASSIGN_OR_RETURN(format::Tombstone t, format::DecodeTombstone(it->value().ToStringView()));
    BV_RETURN_IF_ERROR(fn(id, t));
  }
  return FromRocks(it->status(), "scan tombstones");
}

Result<std::optional<format::RecipeValue>> Index::GetRecipe(uint64_t snapshot, uint16_t stream, uint32_t piece) {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_[kRecipes], RecipeKey(snapshot, stream, piece), &v);
  if (s.IsNotFound()) return std::optional<format::RecipeValue>();
  BV_RETURN_IF_ERROR(FromRocks(s, "get recipe"));
  BV_ASSIGN_OR_RETURN(format::RecipeValue r, DecodeRecipeValue(v));
  return std::optional<format::RecipeValue>(r);
}

uint64_t Index::EstimatedChunks() {
  uint64_t n = 0;
  if (!db_->GetIntProperty(cf_[kChunks], "rocksdb.estimate-num-keys", &n)) return 0;
  return n;
}

Result<std::optional<Location>> Index::GetQuarantined(const format::Id& id) {
  return GetLocation(kQuarantine, id, "get quarantined chunk");
}

Result<std::optional<SnapshotEntry>> Index::GetSnapshot(uint64_t id) { return ReadSnapshot(rocksdb::ReadOptions(), id); }

Result<std::optional<SnapshotEntry>> Index::ReadSnapshot(const rocksdb::ReadOptions& ro, uint64_t id) {
  std::string v;
  rocksdb::Status s = db_->Get(ro, cf_[kSnapshots], SnapshotKey(id), &v);
  if (s.IsNotFound()) return std::optional<SnapshotEntry>();
  BV_RETURN_IF_ERROR(FromRocks(s, "get snapshot"));
  SnapshotEntry e;
  BV_ASSIGN_OR_RETURN(e.record, format::DecodeSnapshotValue(v, &e.commit));
  return std::optional<SnapshotEntry>(std::move(e));
}

Result<std::vector<uint64_t>> Index::FindSnapshotsByPrefix(uint64_t value, int prefix_bits) {
  BV_ASSERT(prefix_bits > 0 && prefix_bits <= 64);
  const uint64_t mask = prefix_bits == 64 ? ~uint64_t{0} : ~(~uint64_t{0} >> prefix_bits);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kSnapshots]));
  std::vector<uint64_t> out;
  for (it->Seek(SnapshotKey(value & mask)); it->Valid() && out.size() < 16; it->Next()) {
    BV_ASSIGN_OR_RETURN(const uint64_t id, DecodeU64Key(it->key().ToStringView()));
    if ((id & mask) != (value & mask)) break;
    out.push_back(id);
  }
  BV_RETURN_IF_ERROR(FromRocks(it->status(), "scan snapshots"));
  return out;
}

Result<std::optional<uint64_t>> Index::FindAsOf(const std::string& source, int64_t time_us) {
  std::string prefix = source;
  prefix.push_back('\0');
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kBySource]));
  it->Seek(format::BySourceSeek(source, time_us));
  BV_RETURN_IF_ERROR(FromRocks(it->status(), "seek by source"));
  if (!it->Valid() || !it->key().starts_with(prefix)) return std::optional<uint64_t>();
  BV_ASSIGN_OR_RETURN(format::BySource key, format::DecodeBySourceKey(it->key().ToStringView()));
  return std::optional<uint64_t>(key.id);
}

Status Index::ForEachSnapshot(const std::string& source, const std::function<bool(const SnapshotEntry&)>& fn) {
  std::string prefix = source;
  if (!source.empty()) prefix.push_back('\0');
  // One view for the listing and the records, so a snapshot deleted meanwhile is either wholly
  // there or wholly gone, never listed without its record.
  rocksdb::ManagedSnapshot view(db_);
  rocksdb::ReadOptions ro;
  ro.snapshot = view.snapshot();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kBySource]));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    BV_ASSIGN_OR_RETURN(format::BySource key, format::DecodeBySourceKey(it->key().ToStringView()));
    const uint64_t id = key.id;
    BV_ASSIGN_OR_RETURN(auto e, ReadSnapshot(ro, id));
    if (!e) return Status::Corruption("index: by_source names snapshot " + std::to_string(id) + " which is missing");
    if (!fn(*e)) break;
  }
  return FromRocks(it->status(), "scan by source");
}

Status Index::ForEachRecipe(uint64_t snapshot, uint16_t stream,
                            const std::function<Status(uint32_t, uint64_t, const Location&)>& fn) {
  const std::string prefix = RecipeKey(snapshot, stream, 0).substr(0, 10);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kRecipes]));
  uint32_t expect = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    BV_ASSIGN_OR_RETURN(format::RecipeKey key, DecodeRecipeKey(it->key().ToStringView()));
    const uint32_t piece = key.piece;
    if (piece != expect) {
      return Status::Corruption("index: recipe piece " + std::to_string(expect) + " of stream " +
                                std::to_string(stream) + " is missing");
    }
    expect++;
    BV_ASSIGN_OR_RETURN(format::RecipeValue rv, DecodeRecipeValue(it->value().ToStringView()));
    BV_RETURN_IF_ERROR(fn(piece, rv.stream_offset, rv.location));
  }
  return FromRocks(it->status(), "scan recipes");
}

Status Index::ForEachQuarantined(const std::function<Status(const format::Id&, const Location&)>& fn) {
  return ForEachIdLocation(kQuarantine, "scan quarantine", fn);
}

Status Index::ForEachIdLocation(size_t cf, const char* what,
                                const std::function<Status(const format::Id&, const Location&)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[cf]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    BV_ASSIGN_OR_RETURN(format::Id id, format::DecodeIdKey(it->key().ToStringView()));
    BV_ASSIGN_OR_RETURN(Location l, DecodeLocation(it->value().ToStringView()));
    BV_RETURN_IF_ERROR(fn(id, l));
  }
  return FromRocks(it->status(), what);
}

Status Index::ForEachRecipeKey(
    const std::function<Status(uint64_t, uint16_t, uint32_t, const Location&)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kRecipes]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    BV_ASSIGN_OR_RETURN(format::RecipeKey key, DecodeRecipeKey(it->key().ToStringView()));
    BV_ASSIGN_OR_RETURN(format::RecipeValue rv, DecodeRecipeValue(it->value().ToStringView()));
    BV_RETURN_IF_ERROR(fn(key.snapshot, key.stream, key.piece, rv.location));
  }
  return FromRocks(it->status(), "scan recipes");
}

Result<std::optional<format::SessionRecord>> Index::GetSession(uint64_t id) {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_[kSessions], SnapshotKey(id), &v);
  if (s.IsNotFound()) return std::optional<format::SessionRecord>();
  BV_RETURN_IF_ERROR(FromRocks(s, "get session"));
  BV_ASSIGN_OR_RETURN(format::SessionRecord r, format::DecodeSession(v));
  return std::optional<format::SessionRecord>(std::move(r));
}

Status Index::ForEachSession(const std::function<Status(const format::SessionRecord&)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kSessions]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    BV_ASSIGN_OR_RETURN(format::SessionRecord r, format::DecodeSession(it->value().ToStringView()));
    BV_RETURN_IF_ERROR(fn(r));
  }
  return FromRocks(it->status(), "scan sessions");
}

Result<std::optional<SegmentState>> Index::GetSegment(uint64_t number) {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_[kSegments], SnapshotKey(number), &v);
  if (s.IsNotFound()) return std::optional<SegmentState>();
  BV_RETURN_IF_ERROR(FromRocks(s, "get segment"));
  BV_ASSIGN_OR_RETURN(SegmentState st, DecodeSegmentState(v));
  return std::optional<SegmentState>(st);
}

Status Index::ForEachSegment(const std::function<Status(uint64_t, const SegmentState&)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kSegments]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    BV_ASSIGN_OR_RETURN(const uint64_t number, DecodeU64Key(it->key().ToStringView()));
    BV_ASSIGN_OR_RETURN(SegmentState st, DecodeSegmentState(it->value().ToStringView()));
    BV_RETURN_IF_ERROR(fn(number, st));
  }
  return FromRocks(it->status(), "scan segments");
}

Status Index::ForEachChunkAt(uint64_t segment, uint64_t from, uint64_t to,
                             const std::function<Status(uint64_t, const format::Id&)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kLocations]));
  const std::string end = SegOffKey(segment, to);
  for (it->Seek(SegOffKey(segment, from)); it->Valid() && it->key().compare(end) < 0; it->Next()) {
    BV_ASSIGN_OR_RETURN(auto place, format::DecodeSegOffKey(it->key().ToStringView()));
    BV_ASSIGN_OR_RETURN(format::Id id, format::DecodeIdKey(it->value().ToStringView()));
    BV_RETURN_IF_ERROR(fn(place.second, id));
  }
  return FromRocks(it->status(), "scan locations");
}

Status Index::ForEachChunk(const std::function<Status(const format::Id&, const Location&)>& fn) {
  return ForEachIdLocation(kChunks, "scan chunks", fn);
}

}  // namespace bv::engine
