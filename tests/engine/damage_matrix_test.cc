// [SCAN-3] [SCAN-4] [SCAN-5] [OPEN-1] [DMG-1] [DMG-2] Damage, everywhere: a small volume with several
// snapshots in a sealed and an active segment; for every block a byte is flipped (in its header or
// its body, alternately), with the index kept after a clean close, kept after a crash (so every
// command recovers first), and removed; then a sealed segment cut in the middle and 4 KiB pages
// zeroed. After each, what `ls`, `fsck`, `fsck --rebuild-index`, `verify`, `put`
// and `get` do is checked against what the damage touched:
//   - every snapshot that does not reference the damaged bytes restores byte-exact;
//   - every one that does is named (a damage entry or a problem names it), or restores exactly;
//   - no check says "clean" over damage;
//   - no byte of the volume is lost or changed, by any command;
//   - a put succeeds afterwards, and once the damaged chunks are pushed again every snapshot that
//     lost only data restores.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "engine/check.h"
#include "format/recipe_format.h"
#include "format/segment_scanner.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::RandomBytes;

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct Block {
  uint64_t segment;
  uint64_t offset;
  format::BlockHeader header;
};

enum class IndexCase { kCleanClose, kCrash, kRemoved };
const char* Name(IndexCase c) {
  switch (c) {
    case IndexCase::kCleanClose: return "index kept, closed cleanly";
    case IndexCase::kCrash: return "index kept, the process crashed";
    case IndexCase::kRemoved: return "index removed";
  }
  return "";
}
constexpr IndexCase kIndexCases[] = {IndexCase::kCleanClose, IndexCase::kCrash, IndexCase::kRemoved};

// Damage to apply: replace segment `segment` by `bytes`, which touch [from, to).
struct Harm {
  std::string name;
  uint64_t segment;
  uint64_t from, to;
  std::string bytes;
};

class DamageMatrix : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pristine_ = new test::TestVolume();
    InitOptions io;
    io.segment_size = 1 << 20;  // two segments: a sealed one and the active one
    io.chunk_min = 8 << 10;
    io.chunk_avg = 16 << 10;
    io.chunk_max = 64 << 10;
    ASSERT_OK(pristine_->Init(io));
    ASSERT_OK_AND_ASSIGN(auto v, pristine_->Open());
    data_ = new std::map<uint64_t, std::string>();
    const std::string shared = RandomBytes(96 << 10, 999);  // chunks several snapshots hold
    for (int i = 0; i < 5; i++) {
      std::string d = RandomBytes(200 << 10, 300 + i) + shared;
      ASSERT_OK_AND_ASSIGN(auto rec, test::PutString(v.get(), "m/" + std::to_string(i % 2), d));
      (*data_)[rec.id] = d;
    }
    ASSERT_OK(v->Close());
    blocks_ = new std::vector<Block>();
    refs_ = new std::map<std::pair<uint64_t, uint64_t>, std::set<uint64_t>>();
    std::map<format::Id, std::set<uint64_t>> holders;
    for (uint64_t seg = 1;; seg++) {
      const std::string path = pristine_->dir() + "/segments/" + format::SegmentFileName(seg);
      if (!std::filesystem::exists(path)) break;
      segments_.push_back(ReadFile(path));
      format::StringSource src(segments_.back());
      format::SegmentScanner scanner(&src, format::kSegmentHeaderSize, true);
      for (;;) {
        ASSERT_OK_AND_ASSIGN(auto b, scanner.Next());
        if (!b) break;
        blocks_->push_back(Block{seg, b->offset, b->header});
        if (b->header.type == format::BlockType::kRecipe) {
          ASSERT_OK_AND_ASSIGN(auto r, format::DecodeRecipe(b->payload));
          for (const auto& e : r.entries) holders[e.chunk_id].insert(format::SnapshotIdFromBlockId(b->header.id));
        }
      }
      ASSERT_EQ(scanner.stop(), format::ScanStop::kEnd);
    }
    ASSERT_EQ(segments_.size(), 2u) << "the matrix needs a sealed segment and an active one";
    for (const Block& b : *blocks_) {
      std::set<uint64_t> r;
      switch (b.header.type) {
        case format::BlockType::kData:
          r = holders[b.header.id];
          break;
        case format::BlockType::kRecipe:
        case format::BlockType::kSnapshotCommit:
          r.insert(format::SnapshotIdFromBlockId(b.header.id));
          break;
        default:
          break;
      }
      (*refs_)[{b.segment, b.offset}] = r;
    }
  }
  static void TearDownTestSuite() {
    delete pristine_;
    delete data_;
    delete blocks_;
    delete refs_;
    segments_.clear();
  }

  // Snapshots that reference any block overlapping [from, to) of a segment.
  static std::set<uint64_t> Touched(uint64_t segment, uint64_t from, uint64_t to) {
    std::set<uint64_t> out;
    for (const Block& b : *blocks_) {
      if (b.segment == segment && b.offset < to && b.offset + b.header.total_size() > from) {
        const auto& r = (*refs_)[{b.segment, b.offset}];
        out.insert(r.begin(), r.end());
      }
    }
    return out;
  }

  static bool DataOnly(uint64_t segment, uint64_t from, uint64_t to) {
    for (const Block& b : *blocks_) {
      if (b.segment == segment && b.offset < to && b.offset + b.header.total_size() > from &&
          b.header.type != format::BlockType::kData && b.header.type != format::BlockType::kPadding) {
        return false;
      }
    }
    return true;
  }

  static bool LeavesATrace(uint64_t id, const Harm& harm) {
    for (const Block& b : *blocks_) {
      const bool metadata = b.header.type == format::BlockType::kRecipe || b.header.type == format::BlockType::kSnapshotCommit;
      const bool harmed = b.segment == harm.segment && b.offset < harm.to && b.offset + b.header.total_size() > harm.from;
      if (metadata && format::SnapshotIdFromBlockId(b.header.id) == id && !harmed) return true;
    }
    return false;
  }

  static Result<std::unique_ptr<Volume>> OpenAt(const std::string& dir, OpenOptions o) {
    o.key_file = pristine_->key();
    o.backend = test::TestBackend();
    return Volume::Open(dir, o);
  }

  static bool Named(const CheckReport& r, uint64_t id) {
    for (const Damage& d : r.damage) {
      for (const auto* list : {&d.snapshots, &d.lost, &d.maybe_lost}) {
        if (std::find(list->begin(), list->end(), id) != list->end()) return true;
      }
    }
    for (const std::string& p : r.problems) {
      if (p.find(format::SnapshotIdHex(id)) != std::string::npos) return true;
    }
    return false;
  }

  // Applies `harm` to a copy of the volume and runs every command on it.
  static void Run(const Harm& harm, IndexCase index_case) {
    SCOPED_TRACE(harm.name + ", " + Name(index_case));
    const bool remove_index = index_case == IndexCase::kRemoved;
    test::TempDir tmp;
    const std::string dir = tmp / "vol";
    std::filesystem::copy(pristine_->dir(), dir, std::filesystem::copy_options::recursive);
    const std::string seg_path = dir + "/segments/" + format::SegmentFileName(harm.segment);
    WriteFile(seg_path, harm.bytes);
    if (remove_index) std::filesystem::remove_all(dir + "/index");
    if (index_case == IndexCase::kCrash) std::filesystem::remove(dir + "/CLEAN");
    std::vector<std::string> damaged_image = segments_;
    damaged_image[harm.segment - 1] = harm.bytes;
    const std::set<uint64_t> touched = Touched(harm.segment, harm.from, harm.to);

    OpenOptions reader;
    reader.read_only = true;
    reader.recover = RecoverMode{false, false};
    OpenOptions rebuild;
    rebuild.rebuild_index = true;
    rebuild.recover = RecoverMode{false, false};
    // ls: a kept index lists every snapshot; a removed one is refused with the way out.
    {
      auto v = OpenAt(dir, reader);
      if (remove_index) {
        ASSERT_FALSE(v.ok());
        EXPECT_NE(v.status().message().find("rebuild-index"), std::string::npos) << v.status().message();
      } else {
        ASSERT_OK(v.status());
        size_t n = 0;
        ASSERT_OK((*v)->index()->ForEachSnapshot("", [&](const SnapshotEntry&) { return ++n > 0; }));
        EXPECT_EQ(n, data_->size());
      }
    }
    // fsck (after --rebuild-index when the index is gone): never clean; names what it touches.
    {
      ASSERT_OK_AND_ASSIGN(auto v, OpenAt(dir, remove_index ? rebuild : reader));
      CheckReport r;
      ASSERT_OK(CheckVolume(v.get(), CheckOptions{}, &r));
      EXPECT_FALSE(r.clean()) << "fsck says clean over damage";
      for (uint64_t id : touched) {
        // With the index gone, a snapshot whose commit and recipes were all in the harmed range
        // left no trace to name it by.
        if (remove_index && !LeavesATrace(id, harm)) continue;
        EXPECT_TRUE(Named(r, id)) << "snapshot " << format::SnapshotIdHex(id) << " is not named";
      }
      ASSERT_OK(v->Close());
    }
    // verify: never clean either; restores of what the damage does not touch are exact.
    {
      ASSERT_OK_AND_ASSIGN(auto v, OpenAt(dir, reader));
      CheckReport r;
      ASSERT_OK(CheckVolume(v.get(), CheckOptions{true, true, {}}, &r));
      EXPECT_FALSE(r.clean()) << "verify says clean over damage";
      for (const auto& [id, d] : *data_) {
        auto back = test::GetString(v.get(), id);
        if (!touched.count(id)) {
          ASSERT_OK(back.status());
          EXPECT_TRUE(*back == d) << format::SnapshotIdHex(id);
        } else if (back.ok()) {
          EXPECT_TRUE(*back == d) << "a damaged snapshot restored wrong bytes: " << format::SnapshotIdHex(id);
        }
      }
      ASSERT_OK(v->Close());
    }
    // No byte was lost by any of the above: nothing but a writer changes a segment.
    for (size_t i = 0; i < damaged_image.size(); i++) {
      EXPECT_TRUE(ReadFile(dir + "/segments/" + format::SegmentFileName(i + 1)) == damaged_image[i])
          << "segment " << i + 1 << " changed under a command that only reads";
    }
    // A writer: restores (quarantining what they find damaged), a put, then the damaged
    // snapshots' bytes pushed again.
    {
      ASSERT_OK_AND_ASSIGN(auto v, OpenAt(dir, OpenOptions{}));
      for (const auto& [id, d] : *data_) (void)test::GetString(v.get(), id);
      {  // fsck --repair: a restore stops at the first damaged chunk; the repair finds them all
        CheckReport r;
        ASSERT_OK(CheckVolume(v.get(), CheckOptions{}, &r));
        uint64_t quarantined = 0;
        ASSERT_OK(QuarantineDamagedChunks(v.get(), r, &quarantined));
      }
      const std::string fresh = RandomBytes(150 << 10, 4242);
      ASSERT_OK_AND_ASSIGN(auto rec, test::PutString(v.get(), "m/fresh", fresh));
      ASSERT_OK_AND_ASSIGN(std::string back, test::GetString(v.get(), rec.id));
      EXPECT_TRUE(back == fresh);
      if (DataOnly(harm.segment, harm.from, harm.to)) {
        for (uint64_t id : touched) ASSERT_OK(test::PutString(v.get(), "m/again", data_->at(id)).status());
        for (const auto& [id, d] : *data_) {
          ASSERT_OK_AND_ASSIGN(std::string healed, test::GetString(v.get(), id));
          EXPECT_TRUE(healed == d) << "not healed by pushing it again: " << format::SnapshotIdHex(id);
        }
      }
      ASSERT_OK(v->Close());
    }
    // What the writer kept: every byte. Only a torn tail that a kept index shows unacknowledged
    // is ever cut, and no harm here is past what the index acknowledged.
    for (size_t i = 0; i < damaged_image.size(); i++) {
      const std::string now = ReadFile(dir + "/segments/" + format::SegmentFileName(i + 1));
      const std::string& before = damaged_image[i];
      ASSERT_GE(now.size(), before.size()) << "segment " << i + 1 << " lost bytes";
      EXPECT_TRUE(now.compare(0, before.size(), before) == 0) << "segment " << i + 1 << " changed";
    }
  }

  static test::TestVolume* pristine_;
  static std::map<uint64_t, std::string>* data_;
  static std::vector<std::string> segments_;
  static std::vector<Block>* blocks_;
  static std::map<std::pair<uint64_t, uint64_t>, std::set<uint64_t>>* refs_;
};

test::TestVolume* DamageMatrix::pristine_ = nullptr;
std::map<uint64_t, std::string>* DamageMatrix::data_ = nullptr;
std::vector<std::string> DamageMatrix::segments_;
std::vector<Block>* DamageMatrix::blocks_ = nullptr;
std::map<std::pair<uint64_t, uint64_t>, std::set<uint64_t>>* DamageMatrix::refs_ = nullptr;

TEST_F(DamageMatrix, EveryBlockWithAByteFlipped) {
  std::mt19937_64 rng(20261206);
  size_t n = 0;
  for (const Block& b : *blocks_) {
    // Alternately a header byte and a body byte (padding, seal and small blocks included).
    const bool in_header = n++ % 2 == 0 || b.header.stored_len == 0;
    const uint64_t at = b.offset + (in_header ? rng() % format::kBlockHeaderSize
                                              : format::kBlockHeaderSize + rng() % b.header.stored_len);
    Harm h{std::string(format::BlockTypeName(b.header.type)) + " block at segment " + std::to_string(b.segment) +
               " offset " + std::to_string(b.offset) + ", byte " + std::to_string(at) + " flipped",
           b.segment, at, at + 1, segments_[b.segment - 1]};
    h.bytes[at] ^= 0x40;
    for (IndexCase c : kIndexCases) ASSERT_NO_FATAL_FAILURE(Run(h, c));
  }
  std::printf("%zu blocks in 2 segments, each damaged three times (index kept, kept after a crash, removed)\n", blocks_->size());
}

TEST_F(DamageMatrix, ASealedSegmentCutInTheMiddle) {
  const std::string& sealed = segments_[0];
  for (uint64_t cut : {sealed.size() / 3, sealed.size() / 2 + 7, sealed.size() * 4 / 5}) {
    Harm h{"segment 1 cut at " + std::to_string(cut), 1, cut, sealed.size(), sealed.substr(0, cut)};
    for (IndexCase c : kIndexCases) ASSERT_NO_FATAL_FAILURE(Run(h, c));
  }
}

TEST_F(DamageMatrix, AZeroedPage) {
  for (uint64_t seg : {1u, 2u}) {
    const std::string& image = segments_[seg - 1];
    const uint64_t pages = image.size() / format::kPageSize;
    for (uint64_t page : {uint64_t{1}, pages / 4, pages / 2, pages * 3 / 4, pages - 2}) {
      const uint64_t from = page * format::kPageSize;
      Harm h{"segment " + std::to_string(seg) + " page at " + std::to_string(from) + " zeroed", seg, from,
             from + format::kPageSize, image};
      std::fill(h.bytes.begin() + static_cast<std::ptrdiff_t>(from),
                h.bytes.begin() + static_cast<std::ptrdiff_t>(from + format::kPageSize), '\0');
      for (IndexCase c : kIndexCases) ASSERT_NO_FATAL_FAILURE(Run(h, c));
    }
  }
}

}  // namespace
}  // namespace bv::engine
