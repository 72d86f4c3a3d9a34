// Resumable puts: a session synced part way survives a disconnect or a crash (no Close) and is
// resumed at exactly the offset it synced, with the stream hash rebuilt from the stored bytes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "base/time_format.h"
#include "engine/check.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::GetString;
using test::RandomBytes;
using test::TestVolume;

Result<std::string> GetStream(Volume* v, uint64_t id, uint16_t stream) {
  BV_ASSIGN_OR_RETURN(auto e, v->index()->GetSnapshot(id));
  if (!e) return Status::NotFound("snapshot");
  test::StringSink sink;
  RestoreOptions o;
  o.stream = stream;
  BV_RETURN_IF_ERROR(Restore(v, *e, o, &sink));
  return sink.out;
}

PutOptions Options(const std::string& source) {
  PutOptions o;
  o.source = source;
  o.label = "resumable";
  return o;
}

// However the bytes arrive (copied in by Write in odd pieces, read straight into the pipeline by
// WriteFrom in short reads, or both), the chunks are the same: a second snapshot of the same bytes
// adds nothing, and each restores exactly.
TEST(PutSession, ChunksDoNotDependOnHowTheBytesArrive) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  const std::string d = RandomBytes(11 << 20, 91);
  PutOptions o = Options("arrive");
  o.batch_input = 1 << 20;
  ASSERT_OK_AND_ASSIGN(auto first, test::PutString(v.get(), "arrive", d));

  // Reads of varying short lengths, as a socket gives them.
  class ShortReads final : public InputStream {
   public:
    explicit ShortReads(std::string_view d) : d_(d) {}
    Result<size_t> Read(char* dst, size_t n) override {
      n = std::min({n, d_.size() - pos_, size_t{1} + (pos_ * 7919) % 300000});
      std::memcpy(dst, d_.data() + pos_, n);
      pos_ += n;
      return n;
    }
    size_t pos() const { return pos_; }

   private:
    std::string_view d_;
    size_t pos_ = 0;
  };
  ASSERT_OK_AND_ASSIGN(auto s, PutSession::Begin(v.get(), o));
  ASSERT_OK(s->StartStream(""));
  ShortReads in(std::string_view(d).substr(0, d.size() / 2));
  for (;;) {
    ASSERT_OK_AND_ASSIGN(size_t got, s->WriteFrom(&in));
    if (got == 0) break;
  }
  for (size_t at = d.size() / 2, step = 1; at < d.size(); at += step, step = step * 3 % 400009 + 1) {
    ASSERT_OK(s->Write(std::string_view(d).substr(at, std::min(step, d.size() - at))));
  }
  EXPECT_EQ(s->offset(), d.size());
  ASSERT_OK(s->EndStream());
  ASSERT_OK_AND_ASSIGN(auto second, s->Commit());
  EXPECT_EQ(second.new_bytes, 0u) << "the same bytes were chunked differently";
  EXPECT_EQ(second.stored_bytes, first.stored_bytes);
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), second.id));
  EXPECT_TRUE(back == d);
}

// A regular file is mapped and chunked where it lies (batches are ranges of the mapping, each
// next one starting at the last one's unchunked tail): the same chunks as reading it, for sizes
// around the batch size, several streams, and a file that is not a multiple of a page.
TEST(PutSession, AMappedFileChunksAsReadingItDoes) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  PutOptions o = Options("mapped");
  o.batch_input = 1 << 20;
  for (size_t size : {size_t{1}, size_t{4095}, size_t{1} << 20, (size_t{1} << 20) + 300001, size_t{9} << 20}) {
    const std::string d = RandomBytes(size, static_cast<uint32_t>(size));
    const std::string path = tv.tmp / ("in-" + std::to_string(size));
    {
      std::FILE* f = std::fopen(path.c_str(), "wb");
      ASSERT_EQ(std::fwrite(d.data(), 1, d.size(), f), d.size());
      std::fclose(f);
    }
    ASSERT_OK_AND_ASSIGN(auto read, test::PutString(v.get(), "read", d));
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_OK_AND_ASSIGN(auto m1, io::MappedFile::Map(fd, path));
    ASSERT_OK_AND_ASSIGN(auto m2, io::MappedFile::Map(fd, path));
    ASSERT_TRUE(m1 && m2);
    MappedInput a(std::move(m1)), b(std::move(m2));
    ASSERT_EQ(a.Mapped(), a.Mapped());
    ASSERT_NE(a.Mapped(), nullptr);
    ASSERT_OK_AND_ASSIGN(auto mapped, Put(v.get(), o, {{"one", &a}, {"two", &b}}));
    ::close(fd);
    EXPECT_EQ(mapped.new_bytes, 0u) << size << ": the mapped file was chunked differently";
    EXPECT_EQ(mapped.stored_bytes, 2 * read.stored_bytes) << size;
    ASSERT_EQ(mapped.streams.size(), 2u);
    EXPECT_EQ(mapped.streams[0].hash, read.streams[0].hash) << size;
    EXPECT_EQ(mapped.streams[1].chunk_count, read.streams[0].chunk_count) << size;
    ASSERT_OK_AND_ASSIGN(std::string back, GetStream(v.get(), mapped.id, 1));
    EXPECT_TRUE(back == d) << size;
  }
}

TEST(PutSession, ResumesAfterACrashAtTheSyncedOffset) {
  TestVolume tv;
  InitOptions io;
  io.segment_size = 4 << 20;
  ASSERT_OK(tv.Init(io));
  const std::string a = RandomBytes((7 << 20) + 12345, 1), b = RandomBytes(3 << 20, 2);
  uint64_t id = 0, synced = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
    ASSERT_OK_AND_ASSIGN(auto s, PutSession::Begin(v.get(), Options("db/main")));
    id = s->id();
    ASSERT_OK(s->StartStream("data"));
    ASSERT_OK(s->Write(std::string_view(a).substr(0, 3 << 20)));
    ASSERT_OK(s->Write(std::string_view(a).substr(3 << 20, 77777)));
    ASSERT_OK(s->Sync());
    synced = s->offset();
    EXPECT_EQ(synced, (3u << 20) + 77777);
    // More goes in after the sync and is lost with the process.
    ASSERT_OK(s->Write(std::string_view(a).substr(synced, 2 << 20)));
    // The process dies: neither the session nor the volume is closed.
  }
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  ASSERT_OK_AND_ASSIGN(auto found, v->index()->FindAsOf("db/main", INT64_MAX));
  EXPECT_FALSE(found.has_value());  // nothing committed
  ASSERT_OK_AND_ASSIGN(auto s, PutSession::Resume(v.get(), id, PutOptions{}));
  EXPECT_EQ(s->streams_done(), 0);
  ASSERT_TRUE(s->in_stream());
  ASSERT_EQ(s->offset(), synced);
  // A second resume of a session that is running is refused.
  auto twice = PutSession::Resume(v.get(), id, PutOptions{});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().code(), Status::Code::kBusy);
  ASSERT_OK(s->Write(std::string_view(a).substr(synced)));
  ASSERT_OK(s->EndStream());
  ASSERT_OK(s->Sync());  // between streams
  ASSERT_OK(s->StartStream("wal"));
  ASSERT_OK(s->Write(b));
  ASSERT_OK(s->EndStream());
  ASSERT_OK_AND_ASSIGN(auto rec, s->Commit());
  s.reset();
  EXPECT_EQ(rec.id, id);
  EXPECT_EQ(rec.label, "resumable");
  ASSERT_EQ(rec.streams.size(), 2u);
  EXPECT_EQ(rec.streams[0].name, "data");
  EXPECT_EQ(rec.streams[0].length, a.size());
  ASSERT_OK_AND_ASSIGN(std::string back, GetStream(v.get(), id, 0));  // checks the whole-stream hash
  EXPECT_TRUE(back == a);
  ASSERT_OK_AND_ASSIGN(back, GetStream(v.get(), id, 1));
  EXPECT_TRUE(back == b);
  // Committed: the session is gone.
  ASSERT_OK_AND_ASSIGN(auto gone, v->index()->GetSession(id));
  EXPECT_FALSE(gone.has_value());
  CheckReport r;
  ASSERT_OK(CheckVolume(v.get(), CheckOptions{true, true, {}}, &r));
  EXPECT_TRUE(r.clean());
}

TEST(PutSession, ResumesBetweenStreamsAfterADisconnect) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  const std::string a = RandomBytes(2 << 20, 3), b = RandomBytes(1 << 20, 4);
  uint64_t id;
  {
    ASSERT_OK_AND_ASSIGN(auto s, PutSession::Begin(v.get(), Options("db/two")));
    id = s->id();
    ASSERT_OK(s->StartStream("a"));
    ASSERT_OK(s->Write(a));
    ASSERT_OK(s->EndStream());
    ASSERT_OK(s->Sync());
  }  // the client went away
  ASSERT_OK_AND_ASSIGN(auto s, PutSession::Resume(v.get(), id, PutOptions{}));
  EXPECT_EQ(s->streams_done(), 1);
  EXPECT_FALSE(s->in_stream());
  ASSERT_OK(s->StartStream("b"));
  ASSERT_OK(s->Write(b));
  ASSERT_OK(s->EndStream());
  ASSERT_OK_AND_ASSIGN(auto rec, s->Commit());
  ASSERT_OK_AND_ASSIGN(std::string back, GetStream(v.get(), rec.id, 0));
  EXPECT_TRUE(back == a);
  ASSERT_OK_AND_ASSIGN(back, GetStream(v.get(), rec.id, 1));
  EXPECT_TRUE(back == b);
}

// A session begun before another snapshot of its source was committed lands after it when asked
// (a push token's), and keeps its own time otherwise (an admin's import).
TEST(PutSession, ACommitAskedToDateAfterTheNewestNeverLandsUnderIt) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  for (bool after : {true, false}) {
    const std::string source = after ? "db/after" : "db/kept";
    PutOptions o = Options(source);
    o.time_us = 1000;
    o.date_after_newest = after;
    ASSERT_OK_AND_ASSIGN(auto s, PutSession::Begin(v.get(), o));
    ASSERT_OK(s->StartStream(""));
    ASSERT_OK(s->Write("late"));
    ASSERT_OK(s->EndStream());
    ASSERT_OK(test::PutString(v.get(), source, "meanwhile", 5000).status());
    ASSERT_OK_AND_ASSIGN(auto rec, s->Commit());
    EXPECT_EQ(rec.time_us, after ? 5001 : 1000) << source;
    ASSERT_OK_AND_ASSIGN(auto e, v->index()->GetSnapshot(rec.id));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->record.time_us, rec.time_us);
  }
}

TEST(PutSession, AStreamNameIsRefusedTwiceEvenAcrossAResume) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  uint64_t id;
  {
    ASSERT_OK_AND_ASSIGN(auto s, PutSession::Begin(v.get(), Options("db/dup")));
    id = s->id();
    ASSERT_OK(s->StartStream("base"));
    ASSERT_OK(s->Write("first"));
    ASSERT_OK(s->EndStream());
    ASSERT_OK(s->Sync());
    Status again = s->StartStream("base");
    EXPECT_EQ(again.code(), Status::Code::kInvalidArgument) << again.ToString();
    EXPECT_NE(again.message().find("a stream named 'base' already"), std::string::npos) << again.message();
  }
  ASSERT_OK_AND_ASSIGN(auto s, PutSession::Resume(v.get(), id, PutOptions{}));
  EXPECT_FALSE(s->StartStream("base").ok());
  ASSERT_OK(s->StartStream("wal"));
  ASSERT_OK(s->EndStream());
  ASSERT_OK(s->Commit().status());
  // Put with two inputs of one name refuses before anything is stored.
  test::StringInput a("x"), b("y");
  auto r = Put(v.get(), Options("db/dup2"), {{"same", &a}, {"same", &b}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("two streams are named 'same'"), std::string::npos) << r.status().message();
  // A hidden character in a stream or source name is refused.
  EXPECT_FALSE(PutSession::Begin(v.get(), Options("db/\xe2\x80\xae" "evil")).ok());
  test::StringInput c("z");
  EXPECT_FALSE(Put(v.get(), Options("db/ok"), {{"w\xe2\x80\x8b" "al", &c}}).ok());
}

TEST(PutSession, UnknownAbortedAndExpiredSessionsCannotBeResumed) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  auto none = PutSession::Resume(v.get(), 12345, PutOptions{});
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(none.status().IsNotFound());
  uint64_t aborted, old;
  {
    ASSERT_OK_AND_ASSIGN(auto s, PutSession::Begin(v.get(), Options("db/x")));
    aborted = s->id();
    ASSERT_OK(s->StartStream(""));
    ASSERT_OK(s->Write(RandomBytes(1 << 20, 5)));
    ASSERT_OK(s->Sync());
    ASSERT_OK(s->Abort());
  }
  EXPECT_TRUE(PutSession::Resume(v.get(), aborted, PutOptions{}).status().IsNotFound());
  {
    ASSERT_OK_AND_ASSIGN(auto s, PutSession::Begin(v.get(), Options("db/y")));
    old = s->id();
    ASSERT_OK(s->StartStream(""));
    ASSERT_OK(s->Write(RandomBytes(1 << 20, 6)));
    ASSERT_OK(s->Sync());
  }
  std::vector<uint64_t> expired;
  ASSERT_OK(ExpireSessions(v.get(), NowMicros() - 3600'000'000LL, &expired));
  EXPECT_TRUE(expired.empty());  // synced a moment ago
  ASSERT_OK(ExpireSessions(v.get(), NowMicros() + 1, &expired));
  EXPECT_EQ(expired, std::vector<uint64_t>{old});
  EXPECT_TRUE(PutSession::Resume(v.get(), old, PutOptions{}).status().IsNotFound());
}

}  // namespace
}  // namespace bv::engine
