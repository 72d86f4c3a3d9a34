// The pieces of bvd's abuse limits that hold no socket (docs/protocol.md §4, §10): the failed-login
// buckets on a clock the test moves, the quota ledger across pushes, and the admission pool.
#include <gtest/gtest.h>

#include "server/admission.h"
#include "server/auth_limiter.h"
#include "server/memory_budget.h"
#include "server/quota_ledger.h"
#include "tests/test_util.h"

namespace bv::server {
namespace {

using std::chrono::seconds;

TEST(AuthLimiter, AnAddressIsRefusedOnceItsBurstIsSpentAndAgainAfterTheRefill) {
  AuthLimiter l;
  const AuthLimits limits{/*per_minute=*/6, /*burst=*/3, /*global_per_minute=*/600, /*global_burst=*/1000};
  const auto t0 = AuthLimiter::Clock::now();
  for (int i = 0; i < 3; i++) {
    EXPECT_TRUE(l.MayTry("10.0.0.1", limits, t0).ok());
    l.Failed("10.0.0.1", limits, t0);
  }
  Status s = l.MayTry("10.0.0.1", limits, t0);
  EXPECT_EQ(s.code(), Status::Code::kBusy);
  EXPECT_EQ(s.message(), "too many failed logins from 10.0.0.1; retry in 10 s");
  EXPECT_TRUE(l.MayTry("10.0.0.2", limits, t0).ok());  // others are not touched
  EXPECT_TRUE(l.MayTry("10.0.0.1", limits, t0 + seconds(10)).ok());  // 6 a minute: one every 10 s
}

TEST(AuthLimiter, AnEmptyGlobalBucketRefusesAddressesOnRecordButNotCleanOnes) {
  AuthLimiter l;
  const AuthLimits limits{/*per_minute=*/60, /*burst=*/10, /*global_per_minute=*/1, /*global_burst=*/2};
  const auto t0 = AuthLimiter::Clock::now();
  l.Failed("10.0.0.1", limits, t0);
  l.Failed("10.0.0.2", limits, t0);
  EXPECT_EQ(l.MayTry("10.0.0.1", limits, t0).message(), "too many failed logins on this server; retry in 60 s");
  EXPECT_EQ(l.MayTry("10.0.0.2", limits, t0).code(), Status::Code::kBusy);
  EXPECT_TRUE(l.MayTry("10.0.0.3", limits, t0).ok());
}

TEST(QuotaLedger, PushesInFlightTogetherStayWithinTheQuota) {
  QuotaLedger q;
  auto stored = [] { return Result<uint64_t>(uint64_t{100}); };
  ASSERT_OK_AND_ASSIGN(auto a, q.Begin("t", 1000, stored));
  ASSERT_OK_AND_ASSIGN(auto b, q.Begin("t", 1000, stored));
  EXPECT_TRUE(a->Reserve(500));
  EXPECT_FALSE(b->Reserve(500));  // 100 + 500 + 500 > 1000
  EXPECT_TRUE(b->Reserve(400));
  a.reset();  // its 500 are stored bytes now
  EXPECT_FALSE(b->Reserve(1));
  Result<std::unique_ptr<QuotaLedger::Reservation>> c = q.Begin("t", 1000, stored);
  EXPECT_EQ(c.status().code(), Status::Code::kQuota);
  EXPECT_EQ(c.status().message(), "tenant t uses 600 of its 1000 bytes, 400 more reserved by pushes in flight");
  b.reset();  // none in flight: measured again (an aborted push took its bytes back)
  EXPECT_TRUE(q.Begin("t", 1000, stored).ok());
}

TEST(MemoryBudget, ReadsLeaveTheirShareForPushes) {
  int released = 0;
  MemoryBudget budget(100, 75, [&] { released++; });
  auto r1 = budget.Draw(40, MemoryBudget::Use::kRead, "shop", 0, "a restore");
  ASSERT_TRUE(r1.ok());
  auto r2 = budget.Draw(40, MemoryBudget::Use::kRead, "shop", 0, "a restore");
  ASSERT_FALSE(r2.ok());  // 80 would pass what reads may hold
  EXPECT_NE(r2.status().message().find("that restores and verifies may hold"), std::string::npos)
      << r2.status().message();
  auto p1 = budget.Draw(60, MemoryBudget::Use::kPush, "shop", 0, "a push");
  ASSERT_TRUE(p1.ok());
  EXPECT_FALSE(budget.Draw(1, MemoryBudget::Use::kPush, "shop", 0, "a push").ok());  // the whole budget is drawn
  r1->reset();
  EXPECT_EQ(released, 0);
  EXPECT_TRUE(budget.Draw(35, MemoryBudget::Use::kRead, "shop", 0, "a restore").ok());  // returned at once
  p1->reset();
  EXPECT_EQ(released, 1);  // nothing drawn: memory goes back to the system
  EXPECT_EQ(budget.drawn(), 0u);
}

TEST(MemoryBudget, WithSeveralTenantsOneMayHoldAtMostHalf) {
  MemoryBudget budget(100, 80, nullptr);
  std::vector<std::unique_ptr<MemoryBudget::Grant>> held;
  const auto draw = [&](const char* tenant, uint64_t bytes, MemoryBudget::Use use) {
    auto g = budget.Draw(bytes, use, tenant, 0, "a restore");
    if (g.ok()) held.push_back(std::move(g).value());
    return g.status();
  };
  // One tenant: the whole read share.
  ASSERT_OK(draw("shop", 30, MemoryBudget::Use::kRead));
  ASSERT_OK(draw("shop", 30, MemoryBudget::Use::kRead));
  held.clear();
  budget.SetTenantCount(2);
  ASSERT_OK(draw("shop", 30, MemoryBudget::Use::kRead));
  const Status second = draw("shop", 30, MemoryBudget::Use::kRead);  // 60 > half of 80
  ASSERT_EQ(second.code(), Status::Code::kBusy);
  EXPECT_NE(second.message().find("of tenant shop"), std::string::npos) << second.message();
  ASSERT_OK(draw("shop", 20, MemoryBudget::Use::kPush));  // 50 of 100 in all
  EXPECT_EQ(draw("shop", 1, MemoryBudget::Use::kPush).code(), Status::Code::kBusy);
  // The other tenant is served from the half left.
  ASSERT_OK(draw("lab", 40, MemoryBudget::Use::kRead));
  // A tenant's first share is never refused for fairness, only for room.
  MemoryBudget small(100, 80, nullptr);
  small.SetTenantCount(2);
  EXPECT_TRUE(small.Draw(70, MemoryBudget::Use::kRead, "lab", 0, "a restore").ok());
}

TEST(Admission, AFullPoolGivesTheSlotOfTheAddressHoldingMostToANewcomer) {
  Admission a;
  const AdmissionLimits limits{/*max_connections=*/8, /*max_unauthenticated=*/3};
  const auto t0 = Admission::Clock::now();
  io::Socket s1(-1, "x"), s2(-1, "x"), s3(-1, "x"), s4(-1, "x"), s5(-1, "x");
  ASSERT_OK_AND_ASSIGN(auto t1, a.Admit("10.0.0.3", &s1, limits, t0));
  ASSERT_OK_AND_ASSIGN(auto t2, a.Admit("10.0.0.3", &s2, limits, t0));
  ASSERT_OK_AND_ASSIGN(auto t3, a.Admit("10.0.0.2", &s3, limits, t0));
  // An address holding two: its oldest goes, however young.
  ASSERT_OK_AND_ASSIGN(auto t4, a.Admit("10.0.0.4", &s4, limits, t0));
  EXPECT_TRUE(t1->evicted());
  EXPECT_FALSE(t2->evicted());
  // Now every address holds one: a newcomer from one of them is refused.
  Result<std::unique_ptr<Admission::Ticket>> t5 = a.Admit("10.0.0.2", &s5, limits, t0 + Admission::kEvictAgeMin);
  EXPECT_EQ(t5.status().code(), Status::Code::kBusy);
  t3->Authenticated();  // its slot is an authenticated one now
  EXPECT_TRUE(a.Admit("10.0.0.2", &s5, limits, t0 + Admission::kEvictAgeMin).ok());
}

TEST(Admission, AmongAddressesHoldingOneEachTheLongestWaitingGoesOnceItHadItsTime) {
  Admission a;
  const AdmissionLimits limits{/*max_connections=*/8, /*max_unauthenticated=*/3};
  const auto t0 = Admission::Clock::now();
  io::Socket s1(-1, "x"), s2(-1, "x"), s3(-1, "x"), s4(-1, "x"), s0(-1, "x");
  {
    Admission b;
    ASSERT_OK_AND_ASSIGN(auto x, b.Admit("10.0.0.1", &s1, limits, t0));
    ASSERT_OK_AND_ASSIGN(auto y, b.Admit("10.0.0.2", &s2, limits, t0));
    ASSERT_OK_AND_ASSIGN(auto z, b.Admit("10.0.0.3", &s3, limits, t0));
    // Nobody has waited kEvictAgeMin: a newcomer is refused rather than cut anyone short.
    auto refused = b.Admit("10.0.0.4", &s0, limits, t0 + std::chrono::seconds(1));
    EXPECT_EQ(refused.status().code(), Status::Code::kBusy);
    EXPECT_FALSE(x->evicted() || y->evicted() || z->evicted());
  }
  ASSERT_OK_AND_ASSIGN(auto fresh, a.Admit("10.0.0.9", &s1, limits, t0 + std::chrono::seconds(2)));
  ASSERT_OK_AND_ASSIGN(auto old, a.Admit("10.0.0.1", &s2, limits, t0));
  ASSERT_OK_AND_ASSIGN(auto mid, a.Admit("10.0.0.5", &s3, limits, t0 + std::chrono::seconds(1)));
  ASSERT_OK_AND_ASSIGN(auto next, a.Admit("10.0.0.7", &s4, limits, t0 + std::chrono::seconds(3)));
  EXPECT_TRUE(old->evicted());
  EXPECT_FALSE(mid->evicted());
  EXPECT_FALSE(fresh->evicted());
}

TEST(Admission, AnAddressThatAuthenticatedBeforeTakesTheSlotOfAYoungStranger) {
  Admission a;
  const AdmissionLimits limits{/*max_connections=*/8, /*max_unauthenticated=*/2};
  const auto t0 = Admission::Clock::now();
  io::Socket s0(-1, "x"), s1(-1, "x"), s2(-1, "x"), s3(-1, "x"), s4(-1, "x"), s5(-1, "x");
  {
    ASSERT_OK_AND_ASSIGN(auto last_night, a.Admit("10.0.0.2", &s0, limits, t0));
    last_night->Authenticated();
  }
  ASSERT_OK_AND_ASSIGN(auto x, a.Admit("10.0.0.7", &s1, limits, t0));
  ASSERT_OK_AND_ASSIGN(auto y, a.Admit("10.0.0.8", &s2, limits, t0 + std::chrono::milliseconds(100)));
  // A stranger waits its turn: nobody has waited kEvictAgeMin.
  EXPECT_EQ(a.Admit("10.0.0.9", &s3, limits, t0 + std::chrono::seconds(1)).status().code(), Status::Code::kBusy);
  // The host that logged in before takes the longest waiting stranger's slot.
  ASSERT_OK_AND_ASSIGN(auto tonight, a.Admit("10.0.0.2", &s4, limits, t0 + std::chrono::seconds(1)));
  EXPECT_TRUE(x->evicted());
  EXPECT_FALSE(y->evicted());
  // Never a known address's: with the pool all known, a known newcomer is refused like anyone.
  ASSERT_OK_AND_ASSIGN(auto second, a.Admit("10.0.0.2", &s5, limits, t0 + std::chrono::seconds(1)));
  EXPECT_TRUE(y->evicted());
  EXPECT_EQ(a.Admit("10.0.0.2", &s3, limits, t0 + std::chrono::seconds(1)).status().code(), Status::Code::kBusy);
  EXPECT_FALSE(tonight->evicted() || second->evicted());
}

TEST(Admission, PeersAreCountedByAddressAndIPv6ByItsSlash64) {
  EXPECT_EQ(PeerAddress("127.0.0.3:41234"), "127.0.0.3");
  EXPECT_EQ(PeerAddress("[::1]:7780"), "::1");
  EXPECT_EQ(PeerAddress("unix"), "unix");
  EXPECT_EQ(PeerAddress("[2001:db8:1:2:aaaa:bbbb:cccc:7]:41234"), "2001:db8:1:2::/64");
  EXPECT_EQ(PeerAddress("[2001:db8:1:2::8]:1"), "2001:db8:1:2::/64");  // the same host
  EXPECT_EQ(PeerAddress("[2001:db8:1:3::8]:1"), "2001:db8:1:3::/64");
  EXPECT_EQ(PeerAddress("[::ffff:192.0.2.9]:1"), "192.0.2.9");
}

}  // namespace
}  // namespace bv::server
