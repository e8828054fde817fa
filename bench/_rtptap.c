/*
 * The bench viewers' receive loop in C (bench/_rtp_viewer.py, BrowserTap): one epoll set over
 * every viewer socket of a process, read with recvmmsg and UDP GRO, and the in-order RTP packet
 * handled here, so that a few hundred viewers fit on one client core beside the server's.
 *
 * In Python every packet cost an event-loop wake-up, a recvmsg, a failing recvmsg (an exception)
 * at the end of each burst and half a dozen calls: ~17 µs a packet on the bench machine, which
 * capped the drivable viewers below what the server could carry. Here:
 *
 *   hub = Hub()                      one per process; loop.add_reader(hub.fileno(), hub.poll)
 *   conn = Conn(on_frame)            one per tapped connection: its streams and the frame callback
 *   conn.add(stream)                 a Stream (subclass of StreamBase) the connection receives
 *   conn.key_due                     wall-clock time (time.time()) from which the sink wants
 *                                    to see keyframes: video goes through Python from then on
 *   hub.add(fd, conn, slow)          read this socket; whatever is not the fast case -> slow(data, addr)
 *   hub.remove(fd)
 *   hub.poll() -> datagrams read
 *
 * The fast case, for which the C code does exactly what BrowserTap.datagram_received does:
 * an RTP packet (not RTCP, STUN or DTLS) of a known SSRC whose Stream has ``fast`` set by
 * Python: 1 (audio: receive statistics only) or 2 (video: also its frames, when the packet is
 * the next in sequence and nothing is missing, held, or awaited). The statistics are RFC 3550's:
 * extended highest sequence number, packets and octets received, interarrival jitter (A.8, on
 * CLOCK_MONOTONIC, i.e. time.monotonic()). A video packet with the marker set completes a
 * frame: on_frame(ssrc, rtp_timestamp, None). Everything else (gaps, reordering, duplicates,
 * RTX, RTCP, STUN, DTLS, the first packets of a stream) goes to ``slow`` as the socket's
 * protocol would have received it, and Python keeps the state it keeps today.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define VLEN 16          /* datagrams (or GRO trains) per recvmmsg */
#define BUF 65536        /* one GRO train at most */
#define EVENTS 256
#define ROUNDS 4         /* recvmmsg calls per socket and poll, at most (fairness) */
#define MAX_STREAMS 16

/* ------------------------------------------------------------------ StreamBase */
typedef struct {
    PyObject_HEAD
    unsigned int ssrc;
    int fast;
    double clock;
    long long ext_max, received, octets, last_marker;
    double jitter;
    double transit;
    int has_transit;
    long long frame_ts;
    int has_frame_ts;
} StreamBase;

static PyObject *stream_get_transit(StreamBase *self, void *closure) {
    if (!self->has_transit)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(self->transit);
}

static int stream_set_transit(StreamBase *self, PyObject *value, void *closure) {
    if (value == NULL || value == Py_None) {
        self->has_transit = 0;
        return 0;
    }
    double v = PyFloat_AsDouble(value);
    if (v == -1.0 && PyErr_Occurred())
        return -1;
    self->transit = v;
    self->has_transit = 1;
    return 0;
}

static PyObject *stream_get_frame_ts(StreamBase *self, void *closure) {
    if (!self->has_frame_ts)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(self->frame_ts);
}

static int stream_set_frame_ts(StreamBase *self, PyObject *value, void *closure) {
    if (value == NULL || value == Py_None) {
        self->has_frame_ts = 0;
        return 0;
    }
    long long v = PyLong_AsLongLong(value);
    if (v == -1 && PyErr_Occurred())
        return -1;
    self->frame_ts = v;
    self->has_frame_ts = 1;
    return 0;
}

static PyMemberDef stream_members[] = {
    {"ssrc", T_UINT, offsetof(StreamBase, ssrc), 0, "the stream's SSRC"},
    {"fast", T_INT, offsetof(StreamBase, fast), 0, "0: Python reads it; 1: audio in C; 2: video in C"},
    {"clock", T_DOUBLE, offsetof(StreamBase, clock), 0, "RTP clock rate (Hz)"},
    {"ext_max", T_LONGLONG, offsetof(StreamBase, ext_max), 0, "extended highest sequence number"},
    {"received", T_LONGLONG, offsetof(StreamBase, received), 0, "packets received"},
    {"octets", T_LONGLONG, offsetof(StreamBase, octets), 0, "bytes received"},
    {"last_marker", T_LONGLONG, offsetof(StreamBase, last_marker), 0, "ext seq of the last frame's end"},
    {"jitter", T_DOUBLE, offsetof(StreamBase, jitter), 0, "interarrival jitter (RTP units)"},
    {NULL}};

static PyGetSetDef stream_getset[] = {
    {"transit", (getter)stream_get_transit, (setter)stream_set_transit, "last relative transit", NULL},
    {"frame_ts", (getter)stream_get_frame_ts, (setter)stream_set_frame_ts, "timestamp of the frame being read", NULL},
    {NULL}};

static PyTypeObject StreamBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_rtptap.StreamBase",
    .tp_basicsize = sizeof(StreamBase),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Receive statistics of one incoming SSRC that the C loop keeps up to date.",
    .tp_new = PyType_GenericNew,
    .tp_members = stream_members,
    .tp_getset = stream_getset,
};

/* ------------------------------------------------------------------ Conn */
typedef struct {
    PyObject_HEAD
    PyObject *on_frame;
    double key_due;
    int count;
    StreamBase *streams[MAX_STREAMS];
} Conn;

static int conn_init(Conn *self, PyObject *args, PyObject *kw) {
    PyObject *on_frame;
    if (!PyArg_ParseTuple(args, "O", &on_frame))
        return -1;
    Py_INCREF(on_frame);
    Py_XSETREF(self->on_frame, on_frame);
    self->key_due = 0.0;
    return 0;
}

static int conn_traverse(Conn *self, visitproc visit, void *arg) {
    Py_VISIT(self->on_frame);
    for (int i = 0; i < self->count; i++)
        Py_VISIT(self->streams[i]);
    return 0;
}

static int conn_clear(Conn *self) {
    Py_CLEAR(self->on_frame);
    for (int i = 0; i < self->count; i++)
        Py_CLEAR(self->streams[i]);
    self->count = 0;
    return 0;
}

static void conn_dealloc(Conn *self) {
    PyObject_GC_UnTrack(self);
    conn_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *conn_add(Conn *self, PyObject *arg) {
    if (!PyObject_TypeCheck(arg, &StreamBaseType)) {
        PyErr_SetString(PyExc_TypeError, "a StreamBase is needed");
        return NULL;
    }
    StreamBase *st = (StreamBase *)arg;
    for (int i = 0; i < self->count; i++) {
        if (self->streams[i]->ssrc == st->ssrc) {
            Py_INCREF(arg);
            Py_SETREF(self->streams[i], st);
            Py_RETURN_NONE;
        }
    }
    if (self->count == MAX_STREAMS) {
        PyErr_SetString(PyExc_ValueError, "too many streams on one connection");
        return NULL;
    }
    Py_INCREF(arg);
    self->streams[self->count++] = st;
    Py_RETURN_NONE;
}

static PyMethodDef conn_methods[] = {
    {"add", (PyCFunction)conn_add, METH_O, "Receive this stream (by its SSRC) in C while its fast flag says so."},
    {NULL}};

static PyMemberDef conn_members[] = {
    {"key_due", T_DOUBLE, offsetof(Conn, key_due), 0, "wall time from which keyframes matter (video via Python)"},
    {NULL}};

static PyTypeObject ConnType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_rtptap.Conn",
    .tp_basicsize = sizeof(Conn),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One tapped connection: its streams and the per-frame callback.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)conn_init,
    .tp_dealloc = (destructor)conn_dealloc,
    .tp_traverse = (traverseproc)conn_traverse,
    .tp_clear = (inquiry)conn_clear,
    .tp_methods = conn_methods,
    .tp_members = conn_members,
};

/* ------------------------------------------------------------------ Hub */
typedef struct {
    PyObject *conn; /* Conn */
    PyObject *slow; /* callable(data, addr) */
} Reg;

typedef struct {
    PyObject_HEAD
    int epfd;
    Reg *regs; /* by fd */
    int cap;
    unsigned char *bufs;
    struct mmsghdr msgs[VLEN];
    struct iovec iov[VLEN];
    struct sockaddr_storage addrs[VLEN];
    char ctrl[VLEN][CMSG_SPACE(sizeof(int))];
} Hub;

static int hub_init(Hub *self, PyObject *args, PyObject *kw) {
    if (self->epfd > 0)
        return 0;
    self->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (self->epfd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    self->bufs = PyMem_Malloc((size_t)VLEN * BUF);
    if (self->bufs == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void hub_drop(Hub *self, int fd) {
    if (fd >= 0 && fd < self->cap) {
        Py_CLEAR(self->regs[fd].conn);
        Py_CLEAR(self->regs[fd].slow);
    }
}

static int hub_traverse(Hub *self, visitproc visit, void *arg) {
    for (int fd = 0; fd < self->cap; fd++) {
        Py_VISIT(self->regs[fd].conn);
        Py_VISIT(self->regs[fd].slow);
    }
    return 0;
}

static int hub_clear(Hub *self) {
    for (int fd = 0; fd < self->cap; fd++)
        hub_drop(self, fd);
    return 0;
}

static void hub_dealloc(Hub *self) {
    PyObject_GC_UnTrack(self);
    hub_clear(self);
    PyMem_Free(self->regs);
    PyMem_Free(self->bufs);
    if (self->epfd > 0)
        close(self->epfd);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *hub_fileno(Hub *self, PyObject *unused) { return PyLong_FromLong(self->epfd); }

static PyObject *hub_add(Hub *self, PyObject *args) {
    int fd;
    PyObject *conn, *slow;
    if (!PyArg_ParseTuple(args, "iO!O", &fd, &ConnType, &conn, &slow))
        return NULL;
    if (fd < 0 || !PyCallable_Check(slow)) {
        PyErr_SetString(PyExc_ValueError, "a socket's fd and a callable are needed");
        return NULL;
    }
    if (fd >= self->cap) {
        int cap = fd + 256;
        Reg *regs = PyMem_Realloc(self->regs, sizeof(Reg) * cap);
        if (regs == NULL)
            return PyErr_NoMemory();
        memset(regs + self->cap, 0, sizeof(Reg) * (cap - self->cap));
        self->regs = regs;
        self->cap = cap;
    }
    int one = 1;
    setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one); /* an older kernel: one datagram a packet */
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(self->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        if (errno != EEXIST || epoll_ctl(self->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
            return PyErr_SetFromErrno(PyExc_OSError);
    }
    hub_drop(self, fd);
    Py_INCREF(conn);
    Py_INCREF(slow);
    self->regs[fd].conn = conn;
    self->regs[fd].slow = slow;
    Py_RETURN_NONE;
}

static PyObject *hub_remove(Hub *self, PyObject *arg) {
    int fd = _PyLong_AsInt(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    epoll_ctl(self->epfd, EPOLL_CTL_DEL, fd, NULL); /* already gone if the socket closed */
    hub_drop(self, fd);
    Py_RETURN_NONE;
}

static PyObject *addr_tuple(const struct sockaddr_storage *ss) {
    char host[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        return Py_BuildValue("(si)", host, ntohs(a->sin_port));
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        return Py_BuildValue("(siIk)", host, ntohs(a->sin6_port), ntohl(a->sin6_flowinfo),
                             (unsigned long)a->sin6_scope_id);
    }
    Py_RETURN_NONE;
}

/* Python errors raised by a callback are reported (as asyncio would) and the loop goes on. */
static void call_slow(PyObject *slow, const unsigned char *data, size_t len, const struct sockaddr_storage *ss) {
    PyObject *addr = addr_tuple(ss);
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)len);
    PyObject *r = NULL;
    if (addr != NULL && bytes != NULL)
        r = PyObject_CallFunctionObjArgs(slow, bytes, addr, NULL);
    if (r == NULL)
        PyErr_WriteUnraisable(slow);
    Py_XDECREF(r);
    Py_XDECREF(addr);
    Py_XDECREF(bytes);
}

static inline uint32_t be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* One datagram: 1 if handled here, 0 if it is Python's. */
static int fast_packet(Conn *conn, const unsigned char *d, size_t len, double now, double wall) {
    if (len < 12)
        return 0;
    unsigned char b0 = d[0], b1 = d[1];
    if (b0 < 128 || b0 > 191 || (b1 > 191 && b1 < 224))
        return 0; /* STUN, DTLS, RTCP */
    uint32_t ssrc = be32(d + 8);
    StreamBase *st = NULL;
    for (int i = 0; i < conn->count; i++) {
        if (conn->streams[i]->ssrc == ssrc) {
            st = conn->streams[i];
            break;
        }
    }
    if (st == NULL || st->fast == 0)
        return 0;
    unsigned int seq = ((unsigned int)d[2] << 8) | d[3];
    uint32_t ts = be32(d + 4);
    unsigned int delta = (seq - (unsigned int)(st->ext_max & 0xFFFF)) & 0xFFFF;
    long long ext = delta < 0x8000 ? st->ext_max + delta : st->ext_max + delta - 0x10000;
    int video = st->fast == 2;
    if (video && (ext != st->ext_max + 1 || wall >= conn->key_due))
        return 0; /* a gap, reordering, a duplicate, or a keyframe to look at: Python's */
    st->received += 1;
    st->octets += (long long)len;
    double transit = now * st->clock - (double)ts;
    if (st->has_transit) {
        double dd = transit - st->transit;
        st->jitter += ((dd >= 0 ? dd : -dd) - st->jitter) * 0.0625;
    }
    st->transit = transit;
    st->has_transit = 1;
    if (!video) {
        if (ext > st->ext_max)
            st->ext_max = ext;
        return 1;
    }
    st->ext_max = ext;
    if (!st->has_frame_ts || st->frame_ts != (long long)ts) {
        st->frame_ts = ts; /* ext > last_marker: it is the newest packet */
        st->has_frame_ts = 1;
    }
    if (b1 & 0x80) {
        st->last_marker = ext;
        PyObject *r = PyObject_CallFunction(conn->on_frame, "IkO", ssrc, (unsigned long)ts, Py_None);
        if (r == NULL)
            PyErr_WriteUnraisable(conn->on_frame);
        Py_XDECREF(r);
    }
    return 1;
}

static double clock_of(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static long read_socket(Hub *self, int fd) {
    long datagrams = 0;
    for (int round = 0; round < ROUNDS; round++) {
        if (fd >= self->cap || self->regs[fd].conn == NULL)
            return datagrams; /* removed by a callback */
        for (int i = 0; i < VLEN; i++) {
            self->iov[i].iov_base = self->bufs + (size_t)i * BUF;
            self->iov[i].iov_len = BUF;
            struct msghdr *h = &self->msgs[i].msg_hdr;
            memset(h, 0, sizeof *h);
            h->msg_iov = &self->iov[i];
            h->msg_iovlen = 1;
            h->msg_name = &self->addrs[i];
            h->msg_namelen = sizeof self->addrs[i];
            h->msg_control = self->ctrl[i];
            h->msg_controllen = sizeof self->ctrl[i];
        }
        int n = recvmmsg(fd, self->msgs, VLEN, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return datagrams; /* EAGAIN, or an error the socket reported (ICMP): read again later */
        double now = clock_of(CLOCK_MONOTONIC), wall = clock_of(CLOCK_REALTIME);
        /* the registration may change under a callback: hold it for this batch */
        PyObject *conn = self->regs[fd].conn, *slow = self->regs[fd].slow;
        Py_INCREF(conn);
        Py_INCREF(slow);
        for (int i = 0; i < n; i++) {
            unsigned char *data = self->bufs + (size_t)i * BUF;
            size_t len = self->msgs[i].msg_len, seg = len;
            struct msghdr *h = &self->msgs[i].msg_hdr;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
                if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
                    int size;
                    memcpy(&size, CMSG_DATA(c), sizeof size);
                    if (size > 0)
                        seg = (size_t)size;
                }
            }
            for (size_t pos = 0; pos < len; pos += seg) {
                size_t part = len - pos < seg ? len - pos : seg;
                datagrams++;
                if (!fast_packet((Conn *)conn, data + pos, part, now, wall))
                    call_slow(slow, data + pos, part, &self->addrs[i]);
            }
        }
        Py_DECREF(conn);
        Py_DECREF(slow);
        if (n < VLEN)
            return datagrams;
    }
    return datagrams;
}

static PyObject *hub_poll(Hub *self, PyObject *unused) {
    struct epoll_event events[EVENTS];
    int n = epoll_wait(self->epfd, events, EVENTS, 0);
    long datagrams = 0;
    for (int i = 0; i < n; i++)
        datagrams += read_socket(self, events[i].data.fd);
    return PyLong_FromLong(datagrams);
}

static PyMethodDef hub_methods[] = {
    {"fileno", (PyCFunction)hub_fileno, METH_NOARGS, "The epoll fd: readable when a socket is."},
    {"add", (PyCFunction)hub_add, METH_VARARGS, "add(fd, conn, slow): read this socket here."},
    {"remove", (PyCFunction)hub_remove, METH_O, "remove(fd): stop reading this socket."},
    {"poll", (PyCFunction)hub_poll, METH_NOARGS, "Read every ready socket; the number of datagrams read."},
    {NULL}};

static PyTypeObject HubType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_rtptap.Hub",
    .tp_basicsize = sizeof(Hub),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One epoll set over the process's viewer sockets.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)hub_init,
    .tp_dealloc = (destructor)hub_dealloc,
    .tp_traverse = (traverseproc)hub_traverse,
    .tp_clear = (inquiry)hub_clear,
    .tp_methods = hub_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rtptap",
    "The bench viewers' receive loop in C (see bench/_rtptap.c).", -1, NULL,
};

PyMODINIT_FUNC PyInit__rtptap(void) {
    if (PyType_Ready(&StreamBaseType) < 0 || PyType_Ready(&ConnType) < 0 || PyType_Ready(&HubType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&StreamBaseType);
    Py_INCREF(&ConnType);
    Py_INCREF(&HubType);
    if (PyModule_AddObject(m, "StreamBase", (PyObject *)&StreamBaseType) < 0 ||
        PyModule_AddObject(m, "Conn", (PyObject *)&ConnType) < 0 ||
        PyModule_AddObject(m, "Hub", (PyObject *)&HubType) < 0)
        return NULL;
    return m;
}
