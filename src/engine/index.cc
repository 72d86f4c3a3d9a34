#include "engine/index.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

#include <cstring>

#include "format/coding.h"

namespace bv::engine {

namespace {

using format::DecodeBigEndian64;
using format::PutBigEndian64;

// Column families, in the order they are opened.
enum Cf : size_t {
  kDefault, kChunks, kLocations, kSnapshots, kBySource, kRecipes, kSegments, kSessions, kQuarantine, kCfCount
};
const char* const kCfNames[kCfCount] = {"default",  "chunks",   "locations", "snapshots", "by_source",
                                         "recipes", "segments", "sessions",  "quarantine"};

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption("index: " + what + ": " + s.ToString());
  if (s.IsNoSpace()) return Status::NoSpace("index: " + what + ": " + s.ToString());
  return Status::IOError("index: " + what + ": " + s.ToString());
}

std::string IdKey(const format::Id& id) { return std::string(reinterpret_cast<const char*>(id.data()), id.size()); }

std::string EncodeLocation(const Location& l) {
  std::string s;
  format::PutFixed64(&s, l.segment);
  format::PutFixed64(&s, l.offset);
  format::PutFixed32(&s, l.stored_len);
  format::PutFixed32(&s, l.raw_len);
  return s;
}

Result<Location> DecodeLocation(std::string_view v) {
  if (v.size() != 24) return Status::Corruption("index: location value of " + std::to_string(v.size()) + " bytes");
  Location l;
  l.segment = format::DecodeFixed64(v.data());
  l.offset = format::DecodeFixed64(v.data() + 8);
  l.stored_len = format::DecodeFixed32(v.data() + 16);
  l.raw_len = format::DecodeFixed32(v.data() + 20);
  return l;
}

struct RecipeValue {
  Location location;
  uint64_t stream_offset;
};

Result<RecipeValue> DecodeRecipeValue(std::string_view v) {
  if (v.size() != 32) return Status::Corruption("index: recipe value of " + std::to_string(v.size()) + " bytes");
  RecipeValue r;
  BV_ASSIGN_OR_RETURN(r.location, DecodeLocation(v.substr(0, 24)));
  r.stream_offset = format::DecodeFixed64(v.data() + 24);
  return r;
}

std::string SegOffKey(uint64_t seg, uint64_t off) {
  std::string k;
  PutBigEndian64(&k, seg);
  PutBigEndian64(&k, off);
  return k;
}

// Newest first: a larger time sorts earlier.
uint64_t InvertTime(int64_t t) { return ~(static_cast<uint64_t>(t) ^ (uint64_t{1} << 63)); }

std::string BySourceKey(const std::string& source, int64_t time_us, uint64_t id) {
  std::string k = source;
  k.push_back('\0');
  PutBigEndian64(&k, InvertTime(time_us));
  PutBigEndian64(&k, id);
  return k;
}

std::string RecipeKey(uint64_t snap, uint16_t stream, uint32_t piece) {
  std::string k;
  PutBigEndian64(&k, snap);
  k.push_back(static_cast<char>(stream >> 8));
  k.push_back(static_cast<char>(stream));
  for (int i = 3; i >= 0; i--) k.push_back(static_cast<char>(piece >> (8 * i)));
  return k;
}

std::string SnapshotKey(uint64_t id) {
  std::string k;
  PutBigEndian64(&k, id);
  return k;
}

std::string EncodeSegmentState(const SegmentState& s) {
  std::string v;
  format::PutFixed8(&v, s.sealed ? 1 : 0);
  format::PutFixed64(&v, s.indexed_through);
  format::PutFixed64(&v, s.blocks);
  return v;
}

Result<SegmentState> DecodeSegmentState(std::string_view v) {
  if (v.size() != 17 || static_cast<uint8_t>(v[0]) > 1) return Status::Corruption("index: bad segment state");
  SegmentState s;
  s.sealed = v[0] == 1;
  s.indexed_through = format::DecodeFixed64(v.data() + 1);
  s.blocks = format::DecodeFixed64(v.data() + 9);
  return s;
}

Result<SnapshotEntry> DecodeSnapshotEntry(std::string_view v) {
  if (v.size() < 24) return Status::Corruption("index: snapshot entry too short");
  SnapshotEntry e;
  BV_ASSIGN_OR_RETURN(e.commit, DecodeLocation(v.substr(0, 24)));
  BV_ASSIGN_OR_RETURN(e.record, format::DecodeSnapshot(v.substr(24)));
  return e;
}

}  // namespace

void IndexBatch::PutChunk(const format::Id& id, const Location& loc) {
  batch_.Put(index_->cf_[kChunks], IdKey(id), EncodeLocation(loc));
  batch_.Put(index_->cf_[kLocations], SegOffKey(loc.segment, loc.offset), IdKey(id));
}

void IndexBatch::DeleteChunk(const format::Id& id, const Location& loc) {
  batch_.Delete(index_->cf_[kChunks], IdKey(id));
  batch_.Delete(index_->cf_[kLocations], SegOffKey(loc.segment, loc.offset));
}

void IndexBatch::QuarantineChunk(const format::Id& id, const Location& damaged) {
  batch_.Delete(index_->cf_[kChunks], IdKey(id));
  batch_.Put(index_->cf_[kQuarantine], IdKey(id), EncodeLocation(damaged));
}

void IndexBatch::PutRecipe(uint64_t snapshot, uint16_t stream, uint32_t piece, uint64_t stream_offset,
                           const Location& loc) {
  std::string v = EncodeLocation(loc);
  format::PutFixed64(&v, stream_offset);
  batch_.Put(index_->cf_[kRecipes], RecipeKey(snapshot, stream, piece), v);
}

void IndexBatch::PutSnapshot(const SnapshotEntry& e) {
  batch_.Put(index_->cf_[kSnapshots], SnapshotKey(e.record.id),
             EncodeLocation(e.commit) + format::EncodeSnapshot(e.record));
  batch_.Put(index_->cf_[kBySource], BySourceKey(e.record.source, e.record.time_us, e.record.id), "");
}

void IndexBatch::DeleteSnapshot(const format::SnapshotRecord& r) {
  batch_.Delete(index_->cf_[kSnapshots], SnapshotKey(r.id));
  batch_.Delete(index_->cf_[kBySource], BySourceKey(r.source, r.time_us, r.id));
  batch_.DeleteRange(index_->cf_[kRecipes], RecipeKey(r.id, 0, 0), RecipeKey(r.id + 1, 0, 0));
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

Result<std::optional<Location>> Index::GetQuarantined(const format::Id& id) {
  return GetLocation(kQuarantine, id, "get quarantined chunk");
}

Result<std::optional<SnapshotEntry>> Index::GetSnapshot(uint64_t id) {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_[kSnapshots], SnapshotKey(id), &v);
  if (s.IsNotFound()) return std::optional<SnapshotEntry>();
  BV_RETURN_IF_ERROR(FromRocks(s, "get snapshot"));
  BV_ASSIGN_OR_RETURN(SnapshotEntry e, DecodeSnapshotEntry(v));
  return std::optional<SnapshotEntry>(std::move(e));
}

Result<std::vector<uint64_t>> Index::FindSnapshotsByPrefix(uint64_t value, int prefix_bits) {
  BV_ASSERT(prefix_bits > 0 && prefix_bits <= 64);
  const uint64_t mask = prefix_bits == 64 ? ~uint64_t{0} : ~(~uint64_t{0} >> prefix_bits);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kSnapshots]));
  std::vector<uint64_t> out;
  for (it->Seek(SnapshotKey(value & mask)); it->Valid() && out.size() < 16; it->Next()) {
    const uint64_t id = DecodeBigEndian64(it->key().data());
    if ((id & mask) != (value & mask)) break;
    out.push_back(id);
  }
  BV_RETURN_IF_ERROR(FromRocks(it->status(), "scan snapshots"));
  return out;
}

Result<std::optional<uint64_t>> Index::FindAsOf(const std::string& source, int64_t time_us) {
  std::string prefix = source;
  prefix.push_back('\0');
  std::string start = prefix;
  PutBigEndian64(&start, InvertTime(time_us));
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kBySource]));
  it->Seek(start);
  BV_RETURN_IF_ERROR(FromRocks(it->status(), "seek by source"));
  if (!it->Valid() || !it->key().starts_with(prefix) || it->key().size() != prefix.size() + 16) {
    return std::optional<uint64_t>();
  }
  return std::optional<uint64_t>(DecodeBigEndian64(it->key().data() + prefix.size() + 8));
}

Status Index::ForEachSnapshot(const std::string& source, const std::function<bool(const SnapshotEntry&)>& fn) {
  std::string prefix = source;
  if (!source.empty()) prefix.push_back('\0');
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kBySource]));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() < 16) return Status::Corruption("index: short by_source key");
    const uint64_t id = DecodeBigEndian64(it->key().data() + it->key().size() - 8);
    BV_ASSIGN_OR_RETURN(auto e, GetSnapshot(id));
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
    const auto* k = reinterpret_cast<const uint8_t*>(it->key().data());
    const uint32_t piece = (uint32_t{k[10]} << 24) | (uint32_t{k[11]} << 16) | (uint32_t{k[12]} << 8) | k[13];
    if (piece != expect) {
      return Status::Corruption("index: recipe piece " + std::to_string(expect) + " of stream " +
                                std::to_string(stream) + " is missing");
    }
    expect++;
    BV_ASSIGN_OR_RETURN(RecipeValue rv, DecodeRecipeValue(it->value().ToStringView()));
    BV_RETURN_IF_ERROR(fn(piece, rv.stream_offset, rv.location));
  }
  return FromRocks(it->status(), "scan recipes");
}

Status Index::ForEachRecipeKey(
    const std::function<Status(uint64_t, uint16_t, uint32_t, const Location&)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kRecipes]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 14) return Status::Corruption("index: bad recipe key");
    const auto* k = reinterpret_cast<const uint8_t*>(it->key().data());
    const uint64_t snap = DecodeBigEndian64(it->key().data());
    const uint16_t stream = static_cast<uint16_t>((k[8] << 8) | k[9]);
    const uint32_t piece = (uint32_t{k[10]} << 24) | (uint32_t{k[11]} << 16) | (uint32_t{k[12]} << 8) | k[13];
    BV_ASSIGN_OR_RETURN(RecipeValue rv, DecodeRecipeValue(it->value().ToStringView()));
    BV_RETURN_IF_ERROR(fn(snap, stream, piece, rv.location));
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
    if (it->key().size() != 8) return Status::Corruption("index: bad segment key");
    BV_ASSIGN_OR_RETURN(SegmentState st, DecodeSegmentState(it->value().ToStringView()));
    BV_RETURN_IF_ERROR(fn(DecodeBigEndian64(it->key().data()), st));
  }
  return FromRocks(it->status(), "scan segments");
}

Status Index::ForEachChunkAt(uint64_t segment, uint64_t from, uint64_t to,
                             const std::function<Status(uint64_t, const format::Id&)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kLocations]));
  const std::string end = SegOffKey(segment, to);
  for (it->Seek(SegOffKey(segment, from)); it->Valid() && it->key().compare(end) < 0; it->Next()) {
    if (it->key().size() != 16 || it->value().size() != format::kIdSize) {
      return Status::Corruption("index: bad location entry");
    }
    format::Id id;
    std::memcpy(id.data(), it->value().data(), id.size());
    BV_RETURN_IF_ERROR(fn(DecodeBigEndian64(it->key().data() + 8), id));
  }
  return FromRocks(it->status(), "scan locations");
}

Status Index::ForEachChunk(const std::function<Status(const format::Id&, const Location&)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kChunks]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != format::kIdSize) return Status::Corruption("index: bad chunk key");
    format::Id id;
    std::memcpy(id.data(), it->key().data(), id.size());
    BV_ASSIGN_OR_RETURN(Location l, DecodeLocation(it->value().ToStringView()));
    BV_RETURN_IF_ERROR(fn(id, l));
  }
  return FromRocks(it->status(), "scan chunks");
}

}  // namespace bv::engine
