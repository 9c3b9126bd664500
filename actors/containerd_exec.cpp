// Exec in the containerd adapter: Tasks.Exec adds the process, Start runs it, Wait waits for it
// with the caller's timeout; when the timeout passes the process is SIGKILLed and reaped within a
// bounded wait. DeleteProcess runs in every outcome once the process was added, so no exec is
// left behind in the shim.
#include <filesystem>

#include "actors/containerd_client_core.hpp"
#include "src/containerd/convert.hpp"

namespace contd::adapter {

namespace {

using std::string;
namespace rpcs = containerd::rpcs;

struct exec_job {
  string ns;
  string id;
  string exec_id;
  caf::timespan timeout{0};
  caf::typed_response_promise<exec_result> rp;
  uint32_t exit_code = 0;
  caf::error failure; // set when the answer is an error; DeleteProcess still runs first
};

using exec_ptr = std::shared_ptr<exec_job>;

void exec_finish(exec_ptr job) {
  if (job->failure) {
    job->rp.deliver(std::move(job->failure));
    return;
  }
  // The output is in the capture file; its owner reads it (the shim has closed it: DeleteProcess
  // returns after the process's I/O is done).
  job->rp.deliver(exec_result{job->exit_code, {}, false});
}

void exec_delete(pointer self, exec_ptr job) {
  rpcs::tsk_delete_process::request req;
  req.set_container_id(job->id);
  req.set_exec_id(job->exec_id);
  launch<rpcs::tsk_delete_process>(self, job->ns, std::move(req), [job](auto&, rpc_status& s) {
    if (!s.ok() && !s.is(rpc_code::not_found))
      spdlog::warn("containerd: DeleteProcess of exec {} in {}/{} failed: {}", job->exec_id,
                   job->ns, job->id, s.message);
    exec_finish(job);
  });
}

void exec_kill_and_reap(pointer self, exec_ptr job) {
  rpcs::tsk_kill::request kill;
  kill.set_container_id(job->id);
  kill.set_exec_id(job->exec_id);
  kill.set_signal(9);
  kill.set_all(true);
  launch<rpcs::tsk_kill>(self, job->ns, std::move(kill), [self, job](auto&, rpc_status&) {
    // Whether the kill landed or the process had just finished: wait briefly for it to be
    // reaped, because DeleteProcess refuses a running process.
    rpcs::tsk_wait::request wait;
    wait.set_container_id(job->id);
    wait.set_exec_id(job->exec_id);
    launch<rpcs::tsk_wait>(self, job->ns, std::move(wait),
                           [self, job](auto&, rpc_status&) { exec_delete(self, job); },
                           {self->state.config.exec_kill_wait, {}});
  });
}

void exec_wait(pointer self, exec_ptr job) {
  rpcs::tsk_wait::request req;
  req.set_container_id(job->id);
  req.set_exec_id(job->exec_id);
  launch<rpcs::tsk_wait>(self, job->ns, std::move(req),
                         [self, job](auto& resp, rpc_status& s) {
                           if (s.ok()) {
                             job->exit_code = resp.exit_status();
                             exec_delete(self, job);
                             return;
                           }
                           job->failure = s.is(rpc_code::deadline_exceeded)
                                            ? make_error(errc::timeout, "execution timed out")
                                            : s.error();
                           exec_kill_and_reap(self, job);
                         },
                         {job->timeout, {}});
}

void exec_start(pointer self, exec_ptr job) {
  rpcs::tsk_start::request req;
  req.set_container_id(job->id);
  req.set_exec_id(job->exec_id);
  launch<rpcs::tsk_start>(self, job->ns, std::move(req), [self, job](auto&, rpc_status& s) {
    if (s.ok()) {
      exec_wait(self, job);
      return;
    }
    job->failure = s.error();
    exec_delete(self, job); // the process was added: never leave it behind
  });
}

} // namespace

caf::result<exec_result> exec_run(pointer self, const string& ns, const string& id,
                                  const string& exec_id, const string& process_json,
                                  caf::timespan timeout, const string& capture) {
  auto job = std::make_shared<exec_job>();
  job->ns = ns;
  job->id = id;
  job->exec_id = exec_id;
  job->timeout = timeout;
  job->rp = self->make_response_promise<exec_result>();
  rpcs::tsk_exec::request req;
  req.set_container_id(id);
  req.set_exec_id(exec_id);
  req.mutable_spec()->set_type_url(containerd::process_type_url);
  req.mutable_spec()->set_value(process_json);
  // One capture file, named twice. With file:// (or the same path twice) the 1.6 shim shares
  // one writer between its stdout and stderr copiers and now and then drops the stderr of a
  // process that exits right after writing it ("error copying stderr", ~1 exec in 20 here).
  // Two spellings of one existing regular file give each stream its own O_APPEND fd: the
  // streams stay merged in order and nothing is lost. An empty capture means no output.
  if (!capture.empty()) {
    std::filesystem::path out{capture};
    req.set_stdout(capture);
    req.set_stderr((out.parent_path() / "." / out.filename()).string());
  }
  req.set_terminal(false);
  auto rp = job->rp;
  launch<rpcs::tsk_exec>(self, ns, std::move(req), [self, job](auto&, rpc_status& s) {
    if (s.ok()) {
      exec_start(self, job);
      return;
    }
    job->failure = s.error();
    exec_finish(job); // nothing to delete: the process was never added
  });
  return rp;
}

} // namespace contd::adapter
