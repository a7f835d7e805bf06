// A small poll(2) reactor: the daemon's single thread waits here on the event
// channel fd, the signalfd, the XenStore watch fd and a stop eventfd.
//
// Level-triggered: a handler is called once per wake-up in which its fd is
// readable and must consume one unit of work; anything left makes
// the fd readable again at the next poll.
//
// Thread-compatible, except request_stop(), which any thread may call.
#pragma once

#include <functional>
#include <vector>

#include "vgpu/common/result.h"

namespace vgpu::ioreq {

class EventLoop {
 public:
  // A handler returning an error stops the loop; run() returns that error.
  using Handler = std::function<Status()>;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Not from inside a handler: handlers run while the loop walks its list.
  void add(int fd, Handler handler);
  void remove(int fd);

  // Runs until request_stop() or a handler fails.
  Status run();
  // Makes run() return after the current wake-up; safe from any thread and
  // from inside a handler.
  void request_stop();

 private:
  struct Entry {
    int fd;
    Handler handler;
  };
  Status dispatch_ready(const std::vector<short>& revents);

  int stop_fd_ = -1;  // eventfd
  std::vector<Entry> entries_;
};

}  // namespace vgpu::ioreq
