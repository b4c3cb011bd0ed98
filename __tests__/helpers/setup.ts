import nock from 'nock';

// No test reaches the real network: only servers the tests start on loopback.
nock.disableNetConnect();
nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);

afterEach(() => {
  nock.cleanAll();
});

// Each test file loads its own copy of nock; remove this one's interceptor when the file
// ends so the next file's copy is the only one listening.
afterAll(() => {
  nock.restore();
});
