// The workbench's live layer: who is on each job, who edits which segment (one editor per
// segment, a lock that expires unless renewed), and the messages everyone on a job gets
// (presence, locks, confirmed and drafted segments, progress). Transport-free: the WebSocket
// sessions (api/live_socket.cc) are Peers; the hub never blocks on one (a Peer queues).
//
// Messages are JSON objects with a "type" (docs/workbench.md lists them):
//   to a peer:   hello, presence, lock, unlock, lock_refused, segment, progress, pong, error
//   from a peer: lock {target, index}, unlock {target, index}, ping
#ifndef VERSO_LIVE_LIVE_H_
#define VERSO_LIVE_LIVE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace verso::cache {
class RedisClient;
}

namespace verso::live {

struct Editor {
  std::string id;    // the principal's actor: "user:usr_..." or "key:..."
  std::string name;  // what the others see
};

// What the processes of a deployment share (Redis pub/sub when scaled out): each hub publishes
// what its own peers do (locks, presence, messages) and applies what the others publish
// (Hub::FromOthers). Best effort: a lost message heals with the next lock renewal or presence
// announcement; without a backplane each process knows its own peers only.
class Backplane {
 public:
  virtual ~Backplane() = default;
  // Called with the hub's lock held, in the order things happened: must queue and return.
  virtual void Publish(std::string envelope) = 0;
};

// The Redis channel the hubs publish on.
inline constexpr std::string_view kLiveChannel = "verso_live";
// A backplane on Redis pub/sub; subscribe the hub to kLiveChannel (Hub::FromOthers) beside it.
std::unique_ptr<Backplane> NewRedisBackplane(cache::RedisClient* redis);

// A connection's end of the hub. Send is called from any thread, with the hub's lock held: it
// must queue and return (a peer too slow to take its messages closes itself).
class Peer {
 public:
  virtual ~Peer() = default;
  virtual void Send(std::string message) = 0;
};

struct HubOptions {
  absl::Duration lock_ttl = absl::Seconds(60);  // a lock not renewed for this long ends
  int max_locks_per_peer = 8;                   // one editor edits one segment; a few in flight
  int max_peers_per_job = 1000;
  // How often a hub announces its peers on each job to the other processes, and how long an
  // announcement holds (a process that died is forgotten then).
  absl::Duration presence_every = absl::Seconds(20);
  absl::Duration presence_ttl = absl::Seconds(60);
};

// Thread-safe.
class Hub {
 public:
  // `backplane` (optional) links the hubs of several processes; `origin` names this one.
  Hub(const Clock* clock, HubOptions options = {}, Backplane* backplane = nullptr,
      std::string origin = "");
  ~Hub();

  // Joins `peer` to `job` as `editor`: the peer gets "hello" (itself, the editors, the locks),
  // the others "presence". ResourceExhausted-like refusal is a 0 return (too many on the job).
  int64_t Join(std::string_view job, const Editor& editor, Peer* peer);
  // The peer leaves: its locks end ("unlock" to the rest) and the rest get "presence".
  void Leave(int64_t peer);
  // A message from a peer. Bad input is answered with {"type":"error","message":...} to it
  // alone; nothing a peer sends reaches another peer unchecked.
  void Receive(int64_t peer, std::string_view message);
  // `message` (a JSON object) to every peer on `job`.
  void Publish(std::string_view job, std::string_view message);
  // Whether anyone, on this process or (through the backplane) another, is on the job: nothing
  // need be published for a job nobody watches.
  bool Watched(std::string_view job);
  // Who holds a segment now (nullopt: nobody; an expired lock is nobody's).
  std::optional<Editor> Holder(std::string_view job, std::string_view target, int64_t index);
  // Ends expired locks, telling everyone on their jobs, and announces this process's peers to
  // the others when due. The sessions call it now and then (it runs at most once a second).
  void Sweep();
  // What another process's hub published (from the backplane's subscription). Two processes
  // that granted one segment at the same moment settle it the same way on both sides: the
  // earlier lock wins (then the editor id), and the loser's editor gets "lock_refused".
  void FromOthers(std::string_view envelope);

  struct Stats {
    int64_t jobs = 0, peers = 0, locks = 0, messages = 0;
  };
  Stats GetStats();

 private:
  using SegmentKey = std::tuple<std::string, std::string, int64_t>;  // job, target, index
  struct Lock {
    int64_t peer = 0;  // 0: held through another process
    Editor editor;
    absl::Time until;
    absl::Time since;  // when this editor took it (renewals keep it): the earlier lock wins
  };
  struct Remote {  // another process's peers on a job, as it last announced them
    std::vector<Editor> editors;
    absl::Time until;
  };
  struct Member {
    std::string job;
    Editor editor;
    Peer* peer = nullptr;
  };

  void SendLocked(std::string_view job, const std::string& message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PresenceLocked(std::string_view job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TakeLocked(int64_t peer, const Member& m, const std::string& target, int64_t index)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReleaseLocked(const SegmentKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SweepLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // To the other processes (no-op without a backplane).
  void ShareLocked(std::string_view kind, std::string_view job, nlohmann::json body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AnnounceLocked(std::string_view job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<Editor> EditorsLocked(std::string_view job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoteLockLocked(const SegmentKey& key, Lock remote) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string HelloLocked(int64_t peer, const Member& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* const clock_;
  const HubOptions options_;
  Backplane* const backplane_;
  const std::string origin_;
  absl::Mutex mu_;
  int64_t next_peer_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int64_t, Member> members_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<int64_t>, std::less<>> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<SegmentKey, Lock> locks_ ABSL_GUARDED_BY(mu_);
  int64_t messages_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // job -> origin -> its peers there.
  std::map<std::string, std::map<std::string, Remote>, std::less<>> remote_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time, std::less<>> announced_ ABSL_GUARDED_BY(mu_);
};

}  // namespace verso::live

#endif  // VERSO_LIVE_LIVE_H_
