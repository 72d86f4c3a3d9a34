#include "jobs/job_history.h"

#include <rocksdb/db.h>
#include <rocksdb/table.h>

#include "jobs/backup_run.h"

namespace bv::jobs {

namespace {

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  return Status::IOError(what + ": " + s.ToString());
}

}  // namespace

Result<std::unique_ptr<JobHistory>> JobHistory::Open(const std::string& dir, int64_t now_us,
                                                     std::vector<format::RunRecord>* interrupted) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  opts.write_buffer_size = 1 << 20;  // a history is small: a few records a day per job
  opts.max_open_files = 64;
  opts.keep_log_file_num = 2;
  rocksdb::BlockBasedTableOptions table;
  table.no_block_cache = true;
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* db = nullptr;
  // The default family holds run records; `state` what a job keeps between runs (a verify
  // job's cursor). A history from before `state` existed gets it here.
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(opts)},
      {"state", rocksdb::ColumnFamilyOptions(opts)}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  BV_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(opts, dir, families, &handles, &db), "open job history " + dir));
  std::unique_ptr<JobHistory> h(new JobHistory());
  h->db_.reset(db);
  h->handles_ = handles;
  h->dir_ = dir;
  // Runs a crash cut short.
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  std::vector<format::RunRecord> cut;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto r = format::DecodeRunRecord(std::string_view(it->value().data(), it->value().size()));
    if (!r.ok()) return Status::Corruption("job history " + dir + ": " + r.status().message());
    if (r->result == static_cast<uint8_t>(RunResult::kRunning)) cut.push_back(*r);
  }
  BV_RETURN_IF_ERROR(FromRocks(it->status(), "read job history " + dir));
  for (format::RunRecord& r : cut) {
    r.result = static_cast<uint8_t>(RunResult::kInterrupted);
    r.end_us = now_us;
    r.error = "bvd stopped during the run; what it had not committed is not in the volume";
    BV_RETURN_IF_ERROR(h->Put(r));
    if (interrupted != nullptr) interrupted->push_back(r);
  }
  return h;
}

JobHistory::~JobHistory() {
  if (!db_) return;
  for (rocksdb::ColumnFamilyHandle* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
  (void)db_->Close();
}

Result<std::optional<std::string>> JobHistory::GetState(const std::string& job) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[1], job, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  BV_RETURN_IF_ERROR(FromRocks(s, "read job state " + dir_));
  return std::optional<std::string>(std::move(value));
}

Status JobHistory::PutState(const std::string& job, std::string_view value) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Put(wo, handles_[1], job, rocksdb::Slice(value.data(), value.size())),
                   "write job state " + dir_);
}

Status JobHistory::Put(const format::RunRecord& r) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Put(wo, format::RunKey(r.job, r.start_us, r.attempt), format::EncodeRunRecord(r)),
                   "write job history " + dir_);
}

Status JobHistory::ForEach(const std::string& job, bool newest_first,
                           const std::function<Result<bool>(const format::RunRecord&)>& fn) {
  const std::string prefix = job + std::string(1, '\0');
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  if (newest_first) {
    it->SeekForPrev(prefix + std::string(12, '\xff'));
  } else {
    it->Seek(prefix);
  }
  for (; it->Valid() && it->key().starts_with(prefix); newest_first ? it->Prev() : it->Next()) {
    auto r = format::DecodeRunRecord(std::string_view(it->value().data(), it->value().size()));
    if (!r.ok()) return Status::Corruption("job history " + dir_ + ": " + r.status().message());
    BV_ASSIGN_OR_RETURN(bool more, fn(*r));
    if (!more) return Status::Ok();
  }
  return FromRocks(it->status(), "read job history " + dir_);
}

Result<std::vector<format::RunRecord>> JobHistory::Recent(const std::string& job, size_t limit) {
  std::vector<format::RunRecord> out;
  limit = std::min(limit, kHistoryListMax);
  if (limit == 0) return out;
  BV_RETURN_IF_ERROR(ForEach(job, true, [&](const format::RunRecord& r) -> Result<bool> {
    out.push_back(r);
    return out.size() < limit;
  }));
  return out;
}

Result<std::optional<format::RunRecord>> JobHistory::LastGood(const std::string& job) {
  std::optional<format::RunRecord> out;
  BV_RETURN_IF_ERROR(ForEach(job, true, [&](const format::RunRecord& r) -> Result<bool> {
    if (r.result == static_cast<uint8_t>(RunResult::kOk)) out = r;
    return !out.has_value();
  }));
  return out;
}

Result<std::optional<format::RunRecord>> JobHistory::LastScheduled(const std::string& job) {
  std::optional<format::RunRecord> out;
  BV_RETURN_IF_ERROR(ForEach(job, true, [&](const format::RunRecord& r) -> Result<bool> {
    if (r.scheduled_us != 0) out = r;
    return !out.has_value();
  }));
  return out;
}

Result<size_t> JobHistory::Expire(int64_t before_us) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  rocksdb::WriteBatch batch;
  size_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto r = format::DecodeRunRecord(std::string_view(it->value().data(), it->value().size()));
    if (!r.ok()) return Status::Corruption("job history " + dir_ + ": " + r.status().message());
    if (r->end_us != 0 && r->end_us < before_us) {
      batch.Delete(it->key());
      n++;
    }
  }
  BV_RETURN_IF_ERROR(FromRocks(it->status(), "read job history " + dir_));
  if (n == 0) return n;
  rocksdb::WriteOptions wo;
  wo.sync = true;
  BV_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "write job history " + dir_));
  return n;
}

}  // namespace bv::jobs
