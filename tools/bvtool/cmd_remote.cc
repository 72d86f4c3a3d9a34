// bvtool push, ls, verify and delete against a running bvd (--server); get is in cmd_get_remote.cc
// and cmd_get_blocks.cc.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "engine/snapshot_ref.h"
#include "engine/stream_io.h"
#include "tools/bvtool/child_process.h"
#include "tools/bvtool/client.h"
#include "tools/bvtool/commands.h"
#include "tools/bvtool/framed_pusher.h"
#include "tools/bvtool/reply_fields.h"

namespace bv::tool {

using nlohmann::json;

namespace {

// The streams named on the command line: FILE, --stream NAME FILE pairs, or standard input.
std::vector<PushStream> OpenStreams(const std::string& file, const std::vector<std::string>& stream_args) {
  std::vector<PushStream> streams;
  if (!stream_args.empty()) {
    if (!file.empty()) Fail(Status::InvalidArgument("give FILE or --stream NAME FILE, not both"));
    if (stream_args.size() % 2 != 0) Fail(Status::InvalidArgument("--stream takes a NAME and a FILE"));
    for (size_t i = 0; i < stream_args.size(); i += 2) streams.push_back({stream_args[i], stream_args[i + 1]});
  } else {
    streams.push_back({"", file.empty() ? "-" : file});
  }
  int stdin_users = 0;
  for (PushStream& s : streams) {
    if (s.path == "-") {
      s.fd = STDIN_FILENO;
      stdin_users++;
    } else {
      s.fd = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (s.fd < 0) Fail(Status::FromErrno("open " + s.path, errno));
    }
    struct stat st;
    if (::fstat(s.fd, &st) == 0 && S_ISREG(st.st_mode)) s.size = static_cast<uint64_t>(st.st_size);
  }
  if (stdin_users > 1) Fail(Status::InvalidArgument("only one stream can come from standard input"));
  return streams;
}

// `push SOURCE -- COMMAND…`: one stream, the command's standard output, whole only if the command
// exits with status 0. Its exit status is checked once it closes its output, before the stream is
// ended and the snapshot committed; any other end aborts the session.
PushStream CommandStream(ChildProcess* producer, std::optional<int>* failed_status) {
  PushStream s;
  s.path = "the output of " + producer->name();
  s.fd = producer->fd();
  s.at_end = [producer, failed_status]() -> Status {
    BV_ASSIGN_OR_RETURN(int status, producer->Wait());
    if (ChildProcess::Succeeded(status)) return Status::Ok();
    *failed_status = status;
    return Status::IOError(producer->Describe(status));
  };
  return s;
}

}  // namespace

int RemotePush(const Common& c, const Remote& remote, const PushArgs& a) {
  std::unique_ptr<ChildProcess> producer;
  std::optional<int> failed_status;  // the producer's, when it did not exit 0
  std::vector<PushStream> streams;
  if (!a.command.empty()) {
    if (!a.file.empty() || !a.streams.empty()) Fail(Status::InvalidArgument("give FILE, --stream or -- COMMAND, not two"));
    producer = Check(ChildProcess::Start(a.command, ChildProcess::Side::kProducer));
    streams.push_back(CommandStream(producer.get(), &failed_status));
  } else {
    streams = OpenStreams(a.file, a.streams);
  }
  std::string begin = "BEGIN " + Arg(a.source);
  if (!a.label.empty()) begin += " label=" + Arg(a.label);
  if (!a.time.empty()) begin += " time=" + Arg(a.time);
  // Files go to the socket by splice, which raises SIGPIPE when bvd has gone; the lost connection
  // must come back as an error, to be resumed.
  ::signal(SIGPIPE, SIG_IGN);
  FramedPusher pusher(remote, std::move(streams), begin, a.sync_every);
  auto reply = pusher.Run();
  if (failed_status) {
    std::fprintf(stderr, "bvtool: error: %s; the push of %s was aborted, nothing was committed\n",
                 producer->Describe(*failed_status).c_str(), a.source.c_str());
    return 1;
  }
  if (!reply.ok() && producer && !producer->ExitedAlready()) {
    producer->Kill();  // it and what it started: nothing will read its output
    std::fprintf(stderr, "bvtool: %s was killed: the push failed\n", producer->name().c_str());
  }
  if (!reply.ok()) Fail(reply.status());
  if (c.json) {
    std::cout << SnapshotReplyJson(*reply).dump(2) << "\n";
  } else {
    std::printf("%s\n", FieldText(*reply, "snapshot").c_str());
  }
  return 0;
}

int RemoteLs(const Common& c, const Remote& remote, const std::string& source, const std::string& since,
             const std::string& until) {
  auto client = Check(Client::Connect(remote));
  std::string line = "LIST";
  if (!source.empty()) line += " " + Arg(source);
  if (!since.empty()) line += " since=" + Arg(since);
  if (!until.empty()) line += " until=" + Arg(until);
  Check(client->SendLine(line));
  std::vector<server::Reply> rows;
  for (;;) {
    auto r = Check(client->ReadReply());
    if (r.kind != "SNAPSHOT") break;
    rows.push_back(std::move(r));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return FieldText(a, "time") > FieldText(b, "time"); });
  if (c.json) {
    json out = json::array();
    for (const auto& r : rows) out.push_back(SnapshotReplyJson(r));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%-16s  %-20s  %-24s  %10s  %10s  %10s  %s\n", "ID", "TIME", "SOURCE", "LOGICAL", "STORED", "NEW", "LABEL");
  for (const auto& r : rows) {
    std::printf("%-16s  %-20s  %-24s  %10s  %10s  %10s  %s\n", FieldText(r, "snapshot").c_str(),
                FieldText(r, "time").substr(0, 19).c_str(), FieldText(r, "source").c_str(), Human(FieldNumber(r, "logical")).c_str(),
                Human(FieldNumber(r, "stored")).c_str(), Human(FieldNumber(r, "new")).c_str(), FieldText(r, "label").c_str());
  }
  return 0;
}

int RemoteVerify(const Common&, const Remote& remote, const std::string& ref) {
  if (ref.empty()) Fail(Status::InvalidArgument("verify against a server needs a SNAPSHOT"));
  auto client = Check(Client::Connect(remote));
  Check(client->SendLine("VERIFY " + Arg(ref)));
  auto r = Check(client->ReadReply());
  std::printf("verified %s: %llu streams, %llu bytes\n", FieldText(r, "verified").c_str(),
              static_cast<unsigned long long>(FieldNumber(r, "streams")), static_cast<unsigned long long>(FieldNumber(r, "bytes")));
  return 0;
}

int RemoteDelete(const Common&, const Remote& remote, const std::string& ref, const std::string& reason) {
  auto client = Check(Client::Connect(remote));
  Check(client->SendLine("DELETE " + Arg(ref) + (reason.empty() ? "" : " reason=" + Arg(reason))));
  auto r = Check(client->ReadReply());
  std::printf("deleted %s\n", FieldText(r, "deleted").c_str());
  return 0;
}

}  // namespace bv::tool
