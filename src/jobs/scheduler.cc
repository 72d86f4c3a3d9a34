#include "jobs/scheduler.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "base/time_format.h"

namespace bv::jobs {

namespace {

constexpr int64_t kMicros = 1'000'000;

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

Status Scheduler::Prepare(const JobSpec& spec, Job* j, int64_t now_us) {
  j->spec = spec;
  BV_ASSIGN_OR_RETURN(j->zone, FindZone(spec.zone));
  j->identity.reset();
  if (!spec.user.empty()) {
    BV_ASSIGN_OR_RETURN(j->identity, io::LookUpUser(spec.user));
    if (::geteuid() != 0 && j->identity->uid != ::geteuid()) {
      return Status::Denied("job " + spec.name + " runs as " + spec.user + ", which needs bvd to run as root");
    }
    if (j->identity->uid == ::geteuid()) j->identity.reset();  // already that user
  }
  // The slot after the last scheduled run on record: if it has passed, bvd was down for it, and
  // the job runs once now for all it missed.
  BV_ASSIGN_OR_RETURN(auto recent, history_->Recent(spec.name, 20));
  std::optional<int64_t> last_slot;
  for (const format::RunRecord& r : recent) {
    if (r.scheduled_us != 0) last_slot = std::max(last_slot.value_or(0), r.scheduled_us);
  }
  Plan(j, now_us);
  if (last_slot && spec.schedule) {
    const std::optional<int64_t> missed = NextSlot(*j, *last_slot);
    if (missed && *missed <= now_us && !j->running && !j->waiting) {
      j->due_slot_us = *missed;
      j->trigger = format::RunTrigger::kMissed;
      j->waiting = true;
      queue_.push_back(spec.name);
    }
  }
  return Status::Ok();
}

Status Scheduler::Configure(const std::vector<JobSpec>& jobs, uint32_t max_running) {
  std::unique_lock<std::mutex> l(mu_);
  max_running_ = std::max<uint32_t>(max_running, 1);
  const int64_t now = NowMicros();
  std::map<std::string, Job> next;
  for (const JobSpec& spec : jobs) {
    auto old = jobs_.find(spec.name);
    Job j;
    if (old != jobs_.end()) j = old->second;  // running, waiting, control
    if (old == jobs_.end() || !Same(old->second.spec, spec)) {
      BV_RETURN_IF_ERROR(Prepare(spec, &j, now));
    } else {
      j.spec = spec;
    }
    next.emplace(spec.name, std::move(j));
  }
  // A job taken out keeps its run under way to the end; it is not queued again.
  for (auto& [name, j] : jobs_) {
    if (!next.count(name) && j.running) {
      j.next_us.reset();
      j.spec.schedule.reset();
      next.emplace(name, j);
    }
  }
  jobs_ = std::move(next);
  std::erase_if(queue_, [&](const std::string& name) { return !jobs_.count(name) || !jobs_[name].waiting; });
  cv_.notify_all();
  return Status::Ok();
}

void Scheduler::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stopping_) {
    const int64_t now = NowMicros();
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
    std::thread(&Scheduler::RunJob, this, j.spec, j.identity, j.control, j.trigger, j.due_slot_us).detach();
  }
}

void Scheduler::RunJob(JobSpec spec, std::optional<io::ChildSpec::Identity> identity,
                       std::shared_ptr<RunControl> control, format::RunTrigger trigger, int64_t slot_us) {
  std::mt19937_64 rng(std::random_device{}());
  for (uint32_t attempt = 1; attempt <= spec.attempts; attempt++) {
    format::RunRecord rec;
    rec.job = spec.name;
    rec.attempt = attempt;
    rec.trigger = attempt == 1 ? trigger : format::RunTrigger::kRetry;
    rec.scheduled_us = slot_us;
    rec.start_us = NowMicros();
    rec.result = static_cast<uint8_t>(RunResult::kRunning);
    Status recorded = history_->Put(rec);
    RunOutcome o;
    engine::PutOptions opts;
    auto grant = recorded.ok() ? host_.prepare_put(&opts) : Result<std::shared_ptr<void>>(recorded);
    if (grant.ok()) {
      o = RunBackup(host_.volume, spec, identity, opts, control.get());
    } else {
      o.error = "cannot start the run: " + grant.status().message();
    }
    if (o.result == RunResult::kOk && spec.prune && host_.prune) {
      if (Status p = host_.prune(spec.source); !p.ok()) o.error = "the snapshot is committed; the prune after it failed: " + p.message();
    }
    rec.end_us = NowMicros();
    rec.result = static_cast<uint8_t>(o.result);
    if (o.exit_status) rec.exit_status = *o.exit_status;
    rec.bytes_in = o.bytes_in;
    rec.bytes_stored = o.bytes_stored;
    rec.snapshot = o.snapshot;
    rec.error = o.error;
    rec.stderr_tail = o.stderr_tail;
    (void)history_->Put(rec);  // a history that cannot be written loses the record, not the run
    const bool last = o.result != RunResult::kFailed && o.result != RunResult::kTimedOut;
    if (o.result != RunResult::kOk && host_.on_failure) host_.on_failure(rec);
    if (last || attempt == spec.attempts) break;
    const uint64_t delay = RetryDelay(spec, attempt + 1, &rng);
    if (control->WaitStop(std::chrono::steady_clock::now() + std::chrono::seconds(delay))) break;
  }
  std::lock_guard<std::mutex> l(mu_);
  auto it = jobs_.find(spec.name);
  if (it != jobs_.end() && it->second.control == control) {
    it->second.running = false;
    it->second.control.reset();
  }
  running_--;
  cv_.notify_all();
}

Status Scheduler::RunNow(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = jobs_.find(name);
  if (it == jobs_.end() || (!it->second.spec.schedule && it->second.spec.streams.empty())) {
    return Status::NotFound("tenant " + tenant_ + " has no job " + name);
  }
  Job& j = it->second;
  if (j.running) return Status::Busy("job " + name + " is running");
  if (j.waiting) return Status::Busy("job " + name + " is waiting for a free slot");
  j.due_slot_us = 0;
  j.trigger = format::RunTrigger::kManual;
  j.waiting = true;
  queue_.push_back(name);
  cv_.notify_all();
  return Status::Ok();
}

Status Scheduler::Cancel(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return Status::NotFound("tenant " + tenant_ + " has no job " + name);
  Job& j = it->second;
  if (j.waiting) {
    j.waiting = false;
    std::erase(queue_, name);
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
      if (j.control) j.control->Stop(RunResult::kCancelled);
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
    for (const auto& [name, j] : jobs_) out.push_back({j.spec, j.next_us, j.running, j.waiting, {}, {}});
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
