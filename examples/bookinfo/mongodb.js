// Bookinfo's mongodb in the demo: a one-line stand-in for the database, and its client.

/** The database's side of a connection: one reply naming the caller's verified identity. */
export function mongodbStandIn(socket, { peer }) {
  socket.once('data', () => socket.end(`{"ratings":{"Reviewer1":5},"caller":"${peer?.principal ?? '-'}"}\n`));
}

/**
 * ratings' query over a connection from `client.connect` (a mesh, or a mock workload):
 * what came back before the connection closed ('' when it was refused).
 */
export async function findRatings(client) {
  const socket = await client.connect({ host: 'mongodb', port: 27017 });
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (c) => (text += c));
    socket.on('error', () => {});
    socket.on('close', () => resolve(text.trim()));
    socket.write('find ratings\n');
  });
}
