#include "jobs/scheduler.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "base/time_format.h"

namespace bv::jobs {

namespace {

constexpr int64_t kMicros = 1'000'000;
constexpr int kMissedWalkMax = 100'000;  // slots walked to find the latest missed one
constexpr int64_t kExpireEveryUs = 86400 * kMicros;

Seconds ToSeconds(int64_t us) { return Seconds(std::chrono::seconds(us / kMicros)); }
int64_t ToMicros(Seconds s) { return static_cast<int64_t>(s.time_since_epoch().count()) * kMicros; }

std::chrono::system_clock::time_point TimePoint(int64_t us) {
  return std::chrono::system_clock::time_point(std::chrono::microseconds(us));
}

bool Same(const JobSpec& a, const JobSpec& b) {
  return (a.schedule ? a.schedule->text() : "") == (b.schedule ? b.schedule->text() : "") && a.zone == b.zone &&
         a.jitter_s == b.jitter_s;
}

}  // namespace

Scheduler::Scheduler(std::string tenant, JobHost host, std::unique_ptr<JobHistory> history)
    : tenant_(std::move(tenant)), host_(std::move(host)), history_(std::move(history)), rng_(std::random_device{}()) {
  loop_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() { Stop(); }

uint64_t Scheduler::RetryDelay(const JobSpec& spec, uint32_t attempt, std::mt19937_64* rng) {
  // Full jitter: uniform in [0, min(max, base · 2^(attempt - 2))].
  const uint32_t doublings = std::min<uint32_t>(attempt >= 2 ? attempt - 2 : 0, 40);
  const uint64_t cap = std::min<uint64_t>(spec.retry_delay_max_s, spec.retry_delay_s << doublings);
  return std::uniform_int_distribution<uint64_t>(0, cap)(*rng);
}

std::optional<int64_t> Scheduler::NextSlot(const Job& j, int64_t after_us) const {
  if (!j.spec.schedule) return std::nullopt;
  return ToMicros(j.spec.schedule->Next(ToSeconds(after_us), j.zone));
}

void Scheduler::Plan(Job* j, int64_t after_us) {
  j->next_slot_us = NextSlot(*j, after_us);
  j->next_us.reset();
  if (!j->next_slot_us) return;
  const uint64_t jitter = j->spec.jitter_s == 0 ? 0 : std::uniform_int_distribution<uint64_t>(0, j->spec.jitter_s)(rng_);
  j->next_us = *j->next_slot_us + static_cast<int64_t>(jitter) * kMicros;
}

Status Scheduler::Resolve(const JobSpec& spec, Job* j) {
  BV_ASSIGN_OR_RETURN(j->zone, FindZone(spec.zone));
  j->identity.reset();
  if (spec.user.empty()) return Status::Ok();
  BV_ASSIGN_OR_RETURN(auto id, io::LookUpUser(spec.user));
  if (id.uid == ::geteuid()) return Status::Ok();  // already that user
  if (::geteuid() != 0) {
    return Status::Denied("job " + spec.name + " runs as " + spec.user + ", which needs bvd to run as root");
  }
  j->identity = std::move(id);
  return Status::Ok();
}

Result<std::optional<int64_t>> Scheduler::MissedSlot(const Job& j, int64_t now_us) {
  if (!j.spec.schedule) return std::optional<int64_t>();
  BV_ASSIGN_OR_RETURN(auto last, history_->LastScheduled(j.spec.name));
  if (!last) return std::optional<int64_t>();
  std::optional<int64_t> missed;
  // The latest slot at or before now; a bound on the walk for a schedule of every minute.
  std::optional<int64_t> slot = NextSlot(j, last->scheduled_us);
  for (int i = 0; i < kMissedWalkMax && slot && *slot <= now_us; i++) {
    missed = slot;
    slot = NextSlot(j, *slot);
  }
  return missed;
}

Status Scheduler::Configure(const std::vector<JobSpec>& jobs, uint32_t max_running, uint32_t history_days) {
  // Lookups of users and zones, and history reads, happen before the lock is taken.
  const int64_t now = NowMicros();
  std::map<std::string, Job> resolved;
  for (const JobSpec& spec : jobs) {
    Job j;
    j.spec = spec;
    BV_RETURN_IF_ERROR(Resolve(spec, &j));
    resolved.emplace(spec.name, std::move(j));
  }
  std::unique_lock<std::mutex> l(mu_);
  max_running_ = std::max<uint32_t>(max_running, 1);
  history_days_ = history_days;
  const bool first = !configured_;
  configured_ = true;
  std::map<std::string, Job> next;
  for (auto& [name, fresh] : resolved) {
    auto old = jobs_.find(name);
    Job j = old != jobs_.end() ? old->second : Job();  // running, waiting, control, plan
    const bool replan = old == jobs_.end() || !Same(old->second.spec, fresh.spec);
    j.spec = fresh.spec;
    j.zone = fresh.zone;
    j.identity = fresh.identity;
    j.removed = false;
    if (replan) Plan(&j, now);
    if (first) {
      auto missed = MissedSlot(j, now);
      if (!missed.ok()) return missed.status();
      if (*missed && !j.waiting && !j.running) {
        j.due_slot_us = **missed;
        j.trigger = format::RunTrigger::kMissed;
        j.waiting = true;
        queue_.push_back(name);
      }
    }
    next.emplace(name, std::move(j));
  }
  // A job taken out keeps its run under way to the end; it is not queued again.
  for (auto& [name, j] : jobs_) {
    if (next.count(name)) continue;
    if (j.running) {
      j.next_us.reset();
      j.removed = true;
      next.emplace(name, j);
    } else if (j.waiting) {
      NeverRan(name, j.waiter, "the job was taken out of the configuration before it began");
    }
  }
  jobs_ = std::move(next);
  std::erase_if(queue_, [&](const std::string& name) { return !jobs_.count(name) || !jobs_[name].waiting; });
  cv_.notify_all();
  return Status::Ok();
}

void Scheduler::ExpireHistory(int64_t now_us) {
  expired_us_ = now_us;
  auto gone = history_->Expire(now_us - static_cast<int64_t>(history_days_) * 86400 * kMicros);
  if (!gone.ok() && host_.on_history_error) host_.on_history_error(gone.status());
}

void Scheduler::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stopping_) {
    const int64_t now = NowMicros();
    if (now - expired_us_ >= kExpireEveryUs && configured_) ExpireHistory(now);
    std::optional<int64_t> wake;
    for (auto& [name, j] : jobs_) {
      if (j.next_us && *j.next_us <= now) {
        // A slot that comes while the job's last run goes on is skipped.
        if (!j.running && !j.waiting) {
          j.due_slot_us = *j.next_slot_us;
          j.trigger = format::RunTrigger::kSchedule;
          j.waiting = true;
          queue_.push_back(name);
        }
        Plan(&j, now);
      }
      if (j.next_us) wake = std::min(wake.value_or(*j.next_us), *j.next_us);
    }
    StartDue(l, now);
    if (configured_) wake = std::min(wake.value_or(expired_us_ + kExpireEveryUs), expired_us_ + kExpireEveryUs);
    if (wake) {
      cv_.wait_until(l, TimePoint(*wake));
    } else {
      cv_.wait(l);
    }
  }
}

void Scheduler::StartDue(std::unique_lock<std::mutex>&, int64_t) {
  while (running_ < max_running_ && !queue_.empty() && !stopping_) {
    const std::string name = queue_.front();
    queue_.pop_front();
    auto it = jobs_.find(name);
    if (it == jobs_.end() || !it->second.waiting) continue;
    Job& j = it->second;
    j.waiting = false;
    j.running = true;
    j.control = std::make_shared<RunControl>();
    running_++;
    RunTicket t{j.spec, j.identity, j.control, j.trigger, j.due_slot_us, j.snapshot, std::nullopt, std::nullopt,
                std::move(j.waiter)};
    j.snapshot.clear();
    if (auto b = jobs_.find(j.spec.backup_first); !j.spec.backup_first.empty() && b != jobs_.end()) {
      t.backup_first = b->second.spec;
      t.backup_identity = b->second.identity;
    }
    std::thread(&Scheduler::RunJob, this, std::move(t)).detach();
  }
}

void Scheduler::NeverRan(const std::string& job, const std::shared_ptr<std::promise<format::RunRecord>>& waiter,
                         const std::string& why) {
  if (!waiter) return;
  format::RunRecord r;
  r.job = job;
  r.trigger = format::RunTrigger::kManual;
  r.result = static_cast<uint8_t>(RunResult::kCancelled);
  r.error = why;
  waiter->set_value(r);
}

RunOutcome Scheduler::Attempt(const RunTicket& t) {
  if (t.spec.kind == JobKind::kPrune) return RunPruneJob(host_.volume, t.spec, host_.prune, t.control.get());
  if (t.spec.kind == JobKind::kVerify) return RunVerifyJob(host_.volume, t.spec, history_.get(), t.control.get());
  engine::PutOptions opts;
  auto grant = host_.prepare_put(&opts);
  RunOutcome o;
  if (!grant.ok()) {
    o.error = "cannot start the run: " + grant.status().message();
    return o;
  }
  if (t.spec.kind == JobKind::kBackup) return RunBackup(host_.volume, t.spec, t.identity, opts, t.control.get());
  RestoreRequest req;
  req.snapshot = t.snapshot;
  req.backup_first = t.backup_first ? &*t.backup_first : nullptr;
  req.backup_identity = t.backup_identity;
  req.backup_opts = opts;
  req.pool = opts.pool;
  return RunRestore(host_.volume, t.spec, t.identity, req, t.control.get());
}

void Scheduler::RunJob(RunTicket t) {
  const JobSpec& spec = t.spec;
  std::mt19937_64 rng(std::random_device{}());
  format::RunRecord rec;
  for (uint32_t attempt = 1; attempt <= spec.attempts; attempt++) {
    rec = format::RunRecord();
    rec.job = spec.name;
    rec.attempt = attempt;
    rec.trigger = attempt == 1 ? t.trigger : format::RunTrigger::kRetry;
    rec.scheduled_us = t.slot_us;
    rec.start_us = NowMicros();
    rec.result = static_cast<uint8_t>(RunResult::kRunning);
    if (Status recorded = history_->Put(rec); !recorded.ok() && host_.on_history_error) {
      host_.on_history_error(recorded);  // the run goes on; its record may be lost
    }
    RunOutcome o = Attempt(t);
    if (o.result == RunResult::kOk && spec.kind == JobKind::kBackup && spec.prune && host_.prune) {
      std::string report;
      if (auto p = host_.prune({spec.source}, &report); !p.ok()) {
        o.error = "the snapshot is committed; the prune after it failed: " + p.status().message();
      }
    }
    rec.end_us = NowMicros();
    rec.result = static_cast<uint8_t>(o.result);
    if (o.exit_status) rec.exit_status = *o.exit_status;
    rec.bytes_in = o.bytes_in;
    rec.bytes_stored = o.bytes_stored;
    rec.snapshot = o.snapshot;
    rec.error = o.error;
    rec.stderr_tail = o.stderr_tail;
    if (Status recorded = history_->Put(rec); !recorded.ok() && host_.on_history_error) {
      host_.on_history_error(recorded);  // a history that cannot be written loses the record, not the run
    }
    const bool last = !o.retry || (o.result != RunResult::kFailed && o.result != RunResult::kTimedOut);
    if (o.result != RunResult::kOk && host_.on_failure) host_.on_failure(spec, rec, last || attempt == spec.attempts);
    if (last || attempt == spec.attempts) break;
    t.control->ClearTimeout();  // the attempt timed out, not the run
    const uint64_t delay = RetryDelay(spec, attempt + 1, &rng);
    if (t.control->WaitStop(std::chrono::steady_clock::now() + std::chrono::seconds(delay))) break;
  }
  if (t.waiter) t.waiter->set_value(rec);
  std::lock_guard<std::mutex> l(mu_);
  auto it = jobs_.find(spec.name);
  if (it != jobs_.end() && it->second.control == t.control) {
    it->second.running = false;
    it->second.control.reset();
    if (it->second.removed) jobs_.erase(it);
  }
  running_--;
  cv_.notify_all();
}

Result<std::shared_future<format::RunRecord>> Scheduler::RunNow(const std::string& name, const std::string& snapshot) {
  std::lock_guard<std::mutex> l(mu_);
  if (stopping_) return Status::Busy("bvd is stopping");
  auto it = jobs_.find(name);
  if (it == jobs_.end() || it->second.removed) return Status::NotFound("tenant " + tenant_ + " has no job " + name);
  Job& j = it->second;
  if (j.running) return Status::Busy("job " + name + " is running");
  if (j.waiting) return Status::Busy("job " + name + " is waiting for a free slot");
  if (!snapshot.empty() && j.spec.kind != JobKind::kRestore) {
    return Status::InvalidArgument("job " + name + " is a " + JobKindName(j.spec.kind) + " job: it takes no snapshot");
  }
  j.due_slot_us = 0;
  j.trigger = format::RunTrigger::kManual;
  j.waiting = true;
  j.snapshot = snapshot;
  j.waiter = std::make_shared<std::promise<format::RunRecord>>();
  std::shared_future<format::RunRecord> done = j.waiter->get_future().share();
  queue_.push_back(name);
  cv_.notify_all();
  return done;
}

Status Scheduler::Cancel(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return Status::NotFound("tenant " + tenant_ + " has no job " + name);
  Job& j = it->second;
  if (j.waiting) {
    j.waiting = false;
    std::erase(queue_, name);
    NeverRan(name, j.waiter, "cancelled while it waited for a free slot");
    j.waiter.reset();
    return Status::Ok();
  }
  if (!j.running || !j.control) return Status::NotFound("no run of job " + name + " is under way");
  j.control->Stop(RunResult::kCancelled);
  return Status::Ok();
}

void Scheduler::Stop() {
  {
    std::unique_lock<std::mutex> l(mu_);
    if (!loop_.joinable()) return;
    stopping_ = true;
    for (auto& [name, j] : jobs_) {
      if (j.control) j.control->Stop(RunResult::kInterrupted);
      if (j.waiting) NeverRan(name, j.waiter, "bvd stopped before the run began");
      j.waiter.reset();
    }
    cv_.notify_all();
    cv_.wait(l, [&] { return running_ == 0; });
  }
  loop_.join();
}

Result<std::vector<JobState>> Scheduler::List() {
  std::vector<JobState> out;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [name, j] : jobs_) {
      if (!j.removed) out.push_back({j.spec, j.next_us, j.running, j.waiting, {}, {}});
    }
  }
  for (JobState& s : out) {
    BV_ASSIGN_OR_RETURN(auto recent, history_->Recent(s.spec.name, 1));
    if (!recent.empty()) s.last = recent[0];
    BV_ASSIGN_OR_RETURN(s.last_good, history_->LastGood(s.spec.name));
  }
  return out;
}

Result<std::vector<format::RunRecord>> Scheduler::History(const std::string& name, size_t limit) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!jobs_.count(name)) return Status::NotFound("tenant " + tenant_ + " has no job " + name);
  }
  return history_->Recent(name, limit);
}

}  // namespace bv::jobs
