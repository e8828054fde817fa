/*
 * The SFU's per-viewer send path in C: serialise, SRTP-protect and send one forwarded frame.
 *
 * Every frame of a publication is written once per viewer stream (meetings/sfu/forwarding.py,
 * Lane.write). In Python that was, per packet and viewer, a header patch, a join, a copy into
 * libsrtp's buffer, a cffi call into libsrtp (which looks its stream up, estimates the packet
 * index, checks a replay window and re-keys OpenSSL's context) and a slice; about half of a
 * worker's core at a few hundred viewer streams. A Route does all of it in one call per frame:
 *
 *   route = Route(profile, master_key_and_salt, fd, host, port, family)
 *   route.write(header_template, payload_type, groups, first_sequence_number, timestamp)
 *   route.resend(rtp_packet)                 (one packet: a retransmission on the stream's SSRC)
 *   route.protect(rtp_packet) -> bytes       (what resend() sends)
 *
 * SRTP as RFC 3711 (AES-CM + HMAC-SHA1-80, the key derivation) and RFC 7714 (AEAD AES-GCM,
 * 128 and 256), with the session keys derived once from the DTLS-SRTP master key and salt; the
 * output is byte for byte what libsrtp produces (tests/test_sfu_native_srtp.py checks it against
 * pylibsrtp for every profile, across a sequence-number wrap). The rollover counter is kept per
 * route (one route = one viewer stream = one SSRC) as a sender estimates it (RFC 3711 3.3.1).
 *
 * groups: a tuple of tuples of payloads (forwarding.gso_groups): each group of more than one
 * packet leaves in one sendmsg with UDP_SEGMENT (UDP GSO); a single packet with sendto. The
 * last packet of the last group carries the marker. A full socket buffer drops the packet (the
 * viewer NACKs or asks a keyframe, as for a datagram lost on the way); a kernel that refuses
 * GSO turns it off for every route (gso_refused()) and the train goes out packet by packet.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

/* libsrtp's srtp_profile_t values (pylibsrtp.Policy.SRTP_PROFILE_*) */
#define PROFILE_AES128_CM_SHA1_80 1
#define PROFILE_AEAD_AES_128_GCM 7
#define PROFILE_AEAD_AES_256_GCM 8

#define TRAIN_MAX 65000 /* bytes of one GSO send (under the 64 KiB datagram limit) */
#define PACKET_MAX 1500
#define GCM_TAG 16
#define HMAC_TAG 10

static int gso_refused = 0;

typedef struct {
    PyObject_HEAD
    int profile;
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    EVP_CIPHER_CTX *ctx; /* keyed once; only the IV changes per packet */
    unsigned char salt[14];
    unsigned char auth_key[20];
    int trailer; /* bytes SRTP adds to a packet */
    int started;
    uint16_t last_seq;
    uint32_t roc;
    unsigned char train[TRAIN_MAX + PACKET_MAX];
} Route;

/* RFC 3711 4.3.1 with the AES-CM PRF: ``out_len`` bytes for ``label`` (kdr 0, so r = 0). libsrtp
 * pads a 12-byte (GCM) master salt with two zero bytes, as here. */
static int derive(const unsigned char *master_key, int key_len, const unsigned char *salt14,
                  int label, unsigned char *out, int out_len)
{
    unsigned char iv[16], zeros[64];
    int n = 0, ok;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (c == NULL || out_len > (int)sizeof(zeros))
        return 0;
    memcpy(iv, salt14, 14);
    iv[14] = iv[15] = 0;
    iv[7] ^= (unsigned char)label;
    memset(zeros, 0, sizeof(zeros));
    ok = EVP_EncryptInit_ex(c, key_len == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr(), NULL,
                            master_key, iv) == 1 &&
         EVP_EncryptUpdate(c, out, &n, zeros, out_len) == 1 && n == out_len;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

/* The packet's rollover counter, estimated from its sequence number as a sender does. */
static uint32_t roc_of(Route *r, uint16_t seq)
{
    int32_t delta;
    if (!r->started) {
        r->started = 1;
        r->last_seq = seq;
        r->roc = 0;
        return 0;
    }
    delta = (int32_t)seq - (int32_t)r->last_seq;
    if (delta > 0 && delta < 0x8000) {
        r->last_seq = seq;
        return r->roc;
    }
    if (delta <= -0x8000) { /* wrapped: a new cycle */
        r->roc++;
        r->last_seq = seq;
        return r->roc;
    }
    if (delta >= 0x8000) /* an older packet from before the last wrap */
        return r->roc ? r->roc - 1 : 0;
    return r->roc; /* an older packet of this cycle (a retransmission) */
}

/* Protect the RTP packet at ``p`` (``header_len`` bytes of header, then the payload) in place;
 * returns its new length, or -1. ``p`` has room for the trailer. */
static int protect(Route *r, unsigned char *p, int len, int header_len)
{
    uint16_t seq = (uint16_t)((p[2] << 8) | p[3]);
    uint32_t roc = roc_of(r, seq);
    int n = 0;
    if (r->profile == PROFILE_AES128_CM_SHA1_80) {
        unsigned char iv[16], md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        int i;
        memcpy(iv, r->salt, 14);
        iv[14] = iv[15] = 0;
        for (i = 0; i < 4; i++)
            iv[4 + i] ^= p[8 + i]; /* SSRC */
        iv[8] ^= (unsigned char)(roc >> 24);
        iv[9] ^= (unsigned char)(roc >> 16);
        iv[10] ^= (unsigned char)(roc >> 8);
        iv[11] ^= (unsigned char)roc;
        iv[12] ^= p[2];
        iv[13] ^= p[3];
        if (EVP_EncryptInit_ex(r->ctx, NULL, NULL, NULL, iv) != 1 ||
            EVP_EncryptUpdate(r->ctx, p + header_len, &n, p + header_len, len - header_len) != 1)
            return -1;
        /* the authentication tag: HMAC-SHA1 over the packet and the ROC, 80 bits */
        p[len] = (unsigned char)(roc >> 24);
        p[len + 1] = (unsigned char)(roc >> 16);
        p[len + 2] = (unsigned char)(roc >> 8);
        p[len + 3] = (unsigned char)roc;
        if (HMAC(EVP_sha1(), r->auth_key, 20, p, (size_t)len + 4, md, &md_len) == NULL)
            return -1;
        memcpy(p + len, md, HMAC_TAG);
        return len + HMAC_TAG;
    } else {
        unsigned char iv[12];
        int i, m = 0;
        iv[0] = iv[1] = 0;
        memcpy(iv + 2, p + 8, 4); /* SSRC */
        iv[6] = (unsigned char)(roc >> 24);
        iv[7] = (unsigned char)(roc >> 16);
        iv[8] = (unsigned char)(roc >> 8);
        iv[9] = (unsigned char)roc;
        iv[10] = p[2];
        iv[11] = p[3];
        for (i = 0; i < 12; i++)
            iv[i] ^= r->salt[i];
        if (EVP_EncryptInit_ex(r->ctx, NULL, NULL, NULL, iv) != 1 ||
            EVP_EncryptUpdate(r->ctx, NULL, &n, p, header_len) != 1 ||
            EVP_EncryptUpdate(r->ctx, p + header_len, &n, p + header_len, len - header_len) != 1 ||
            EVP_EncryptFinal_ex(r->ctx, p + header_len + n, &m) != 1 ||
            EVP_CIPHER_CTX_ctrl(r->ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG, p + len) != 1)
            return -1;
        return len + GCM_TAG;
    }
}

/* The RTP header's length: fixed part, CSRCs, extension (RFC 3550 5.1, 5.3.1). */
static int header_length(const unsigned char *p, int len)
{
    int n;
    if (len < 12)
        return -1;
    n = 12 + 4 * (p[0] & 0x0F);
    if (p[0] & 0x10) {
        if (len < n + 4)
            return -1;
        n += 4 + 4 * ((p[n + 2] << 8) | p[n + 3]);
    }
    return n <= len ? n : -1;
}

static void send_one(Route *r, const unsigned char *p, int len)
{
    /* a full buffer (EAGAIN, ENOBUFS) or anything else: lost like a datagram */
    (void)sendto(r->fd, p, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&r->addr, r->addrlen);
}

static void send_train(Route *r, unsigned char *train, int len, int size)
{
    struct iovec iov;
    struct msghdr msg;
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } control;
    struct cmsghdr *cm;
    int off;
    if (!gso_refused) {
        memset(&msg, 0, sizeof(msg));
        memset(&control, 0, sizeof(control));
        iov.iov_base = train;
        iov.iov_len = (size_t)len;
        msg.msg_name = &r->addr;
        msg.msg_namelen = r->addrlen;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        *(uint16_t *)CMSG_DATA(cm) = (uint16_t)size;
        if (sendmsg(r->fd, &msg, MSG_DONTWAIT) >= 0)
            return;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
            return;
        if (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP)
            gso_refused = 1;
    }
    for (off = 0; off < len; off += size)
        send_one(r, train + off, len - off < size ? len - off : size);
}

static PyObject *Route_write(Route *r, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer header;
    PyObject *groups;
    long payload_type;
    unsigned long seq, timestamp;
    Py_ssize_t gi, ng;
    int header_len;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "write(header, payload_type, groups, sequence_number, timestamp)");
        return NULL;
    }
    payload_type = PyLong_AsLong(args[1]);
    seq = PyLong_AsUnsignedLong(args[3]);
    timestamp = PyLong_AsUnsignedLong(args[4]);
    if (PyErr_Occurred())
        return NULL;
    groups = args[2];
    if (!PyTuple_Check(groups)) {
        PyErr_SetString(PyExc_TypeError, "groups must be a tuple of tuples of bytes");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &header, PyBUF_SIMPLE) < 0)
        return NULL;
    header_len = header_length(header.buf, (int)header.len);
    if (header_len < 0 || header_len != header.len) {
        PyBuffer_Release(&header);
        PyErr_SetString(PyExc_ValueError, "not an RTP header");
        return NULL;
    }
    ng = PyTuple_GET_SIZE(groups);
    for (gi = 0; gi < ng; gi++) {
        PyObject *group = PyTuple_GET_ITEM(groups, gi);
        Py_ssize_t i, n;
        int used = 0, size = 0, single;
        if (!PyTuple_Check(group)) {
            PyBuffer_Release(&header);
            PyErr_SetString(PyExc_TypeError, "groups must be a tuple of tuples of bytes");
            return NULL;
        }
        n = PyTuple_GET_SIZE(group);
        single = n == 1 || gso_refused;
        for (i = 0; i < n; i++) {
            PyObject *payload = PyTuple_GET_ITEM(group, i);
            char *data;
            Py_ssize_t plen;
            unsigned char *p;
            int len, out;
            if (PyBytes_AsStringAndSize(payload, &data, &plen) < 0) {
                PyBuffer_Release(&header);
                return NULL;
            }
            len = header_len + (int)plen;
            if (len + r->trailer > PACKET_MAX) {
                PyBuffer_Release(&header);
                PyErr_SetString(PyExc_ValueError, "packet is too long");
                return NULL;
            }
            if (!single && used + len + r->trailer > TRAIN_MAX) { /* (gso_groups keeps under it) */
                send_train(r, r->train, used, size);
                used = 0;
            }
            p = r->train + (single ? 0 : used);
            memcpy(p, header.buf, (size_t)header_len);
            memcpy(p + header_len, data, (size_t)plen);
            p[1] = (unsigned char)((payload_type & 0x7F) |
                                   (gi == ng - 1 && i == n - 1 ? 0x80 : 0));
            p[2] = (unsigned char)(seq >> 8);
            p[3] = (unsigned char)seq;
            p[4] = (unsigned char)(timestamp >> 24);
            p[5] = (unsigned char)(timestamp >> 16);
            p[6] = (unsigned char)(timestamp >> 8);
            p[7] = (unsigned char)timestamp;
            seq = (seq + 1) & 0xFFFF;
            out = protect(r, p, len, header_len);
            if (out < 0) {
                PyBuffer_Release(&header);
                PyErr_SetString(PyExc_RuntimeError, "SRTP protect failed");
                return NULL;
            }
            if (single) {
                send_one(r, p, out);
            } else {
                if (used == 0)
                    size = out;
                used += out;
            }
        }
        if (used)
            send_train(r, r->train, used, size);
    }
    PyBuffer_Release(&header);
    Py_RETURN_NONE;
}

static PyObject *Route_protect(Route *r, PyObject *arg)
{
    Py_buffer in;
    unsigned char buf[PACKET_MAX + 32];
    int header_len, out;
    if (PyObject_GetBuffer(arg, &in, PyBUF_SIMPLE) < 0)
        return NULL;
    if (in.len + r->trailer > PACKET_MAX) {
        PyBuffer_Release(&in);
        PyErr_SetString(PyExc_ValueError, "packet is too long");
        return NULL;
    }
    header_len = header_length(in.buf, (int)in.len);
    if (header_len < 0) {
        PyBuffer_Release(&in);
        PyErr_SetString(PyExc_ValueError, "not an RTP packet");
        return NULL;
    }
    memcpy(buf, in.buf, (size_t)in.len);
    out = protect(r, buf, (int)in.len, header_len);
    PyBuffer_Release(&in);
    if (out < 0) {
        PyErr_SetString(PyExc_RuntimeError, "SRTP protect failed");
        return NULL;
    }
    return PyBytes_FromStringAndSize((const char *)buf, out);
}

static PyObject *Route_send(Route *r, PyObject *arg)
{
    PyObject *protected = Route_protect(r, arg);
    if (protected == NULL)
        return NULL;
    send_one(r, (const unsigned char *)PyBytes_AS_STRING(protected), (int)PyBytes_GET_SIZE(protected));
    Py_DECREF(protected);
    Py_RETURN_NONE;
}

static void Route_dealloc(Route *r)
{
    if (r->ctx != NULL)
        EVP_CIPHER_CTX_free(r->ctx);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static int Route_init(Route *r, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"profile", "master", "fd", "host", "port", "family", NULL};
    int profile, fd, port, family = AF_INET, key_len, salt_len;
    Py_buffer master;
    const char *host;
    unsigned char salt14[14], key[32];
    const EVP_CIPHER *cipher;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iy*isi|i", kwlist, &profile, &master, &fd, &host,
                                     &port, &family))
        return -1;
    switch (profile) {
    case PROFILE_AES128_CM_SHA1_80:
        key_len = 16, salt_len = 14, cipher = EVP_aes_128_ctr(), r->trailer = HMAC_TAG;
        break;
    case PROFILE_AEAD_AES_128_GCM:
        key_len = 16, salt_len = 12, cipher = EVP_aes_128_gcm(), r->trailer = GCM_TAG;
        break;
    case PROFILE_AEAD_AES_256_GCM:
        key_len = 32, salt_len = 12, cipher = EVP_aes_256_gcm(), r->trailer = GCM_TAG;
        break;
    default:
        PyBuffer_Release(&master);
        PyErr_Format(PyExc_ValueError, "SRTP profile %d is not supported here", profile);
        return -1;
    }
    if (master.len != key_len + salt_len) {
        PyBuffer_Release(&master);
        PyErr_SetString(PyExc_ValueError, "master key and salt of the wrong length");
        return -1;
    }
    memset(salt14, 0, sizeof(salt14));
    memcpy(salt14, (const unsigned char *)master.buf + key_len, (size_t)salt_len);
    memset(r->salt, 0, sizeof(r->salt));
    if (!derive(master.buf, key_len, salt14, 0x00, key, key_len) ||
        !derive(master.buf, key_len, salt14, 0x02, r->salt, salt_len) ||
        (profile == PROFILE_AES128_CM_SHA1_80 &&
         !derive(master.buf, key_len, salt14, 0x01, r->auth_key, 20))) {
        PyBuffer_Release(&master);
        PyErr_SetString(PyExc_RuntimeError, "SRTP key derivation failed");
        return -1;
    }
    PyBuffer_Release(&master);
    memset(&r->addr, 0, sizeof(r->addr));
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&r->addr;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            goto bad_address;
        r->addrlen = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&r->addr;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            goto bad_address;
        r->addrlen = sizeof(*a);
    }
    if (r->ctx == NULL)
        r->ctx = EVP_CIPHER_CTX_new();
    if (r->ctx == NULL || EVP_EncryptInit_ex(r->ctx, cipher, NULL, key, NULL) != 1) {
        PyErr_SetString(PyExc_RuntimeError, "SRTP cipher setup failed");
        return -1;
    }
    r->profile = profile;
    r->fd = fd;
    r->started = 0;
    return 0;
bad_address:
    PyErr_Format(PyExc_ValueError, "not an IP address: %s", host);
    return -1;
}

static PyMethodDef Route_methods[] = {
    {"write", (PyCFunction)(void (*)(void))Route_write, METH_FASTCALL,
     "write(header, payload_type, groups, sequence_number, timestamp): protect and send a frame"},
    {"protect", (PyCFunction)Route_protect, METH_O, "protect(rtp_packet) -> the SRTP packet"},
    {"resend", (PyCFunction)Route_send, METH_O, "send(rtp_packet): protect it and send it (a retransmission)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RouteType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_srtpsend.Route",
    .tp_basicsize = sizeof(Route),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One viewer stream's SRTP send route (see the module's docstring).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Route_init,
    .tp_dealloc = (destructor)Route_dealloc,
    .tp_methods = Route_methods,
};

static PyObject *gso_refused_py(PyObject *self, PyObject *unused)
{
    return PyBool_FromLong(gso_refused);
}

static PyMethodDef module_methods[] = {
    {"gso_refused", gso_refused_py, METH_NOARGS, "Whether the kernel refused UDP GSO."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_srtpsend",
    "The SFU's per-viewer SRTP send path in C (meetings/sfu/native/_srtpsend.c).", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__srtpsend(void)
{
    PyObject *m;
    if (PyType_Ready(&RouteType) < 0)
        return NULL;
    m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&RouteType);
    if (PyModule_AddObject(m, "Route", (PyObject *)&RouteType) < 0) {
        Py_DECREF(&RouteType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
