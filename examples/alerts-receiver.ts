// A partner's receiver for failure alerts (endpoint.failing, …, delivery.failed): signed like every
// webhook, with the notification secret. Run: ALERT_SECRET=whsec_… PORT=4100 npx tsx examples/alerts-receiver.ts
import { createServer } from 'node:http';
import { createVerifier } from '../src/signing/index.js'; // in your app: 'tpcs/signing'

interface Alert {
  event_id: string;
  event_type: string;
  event_timestamp: string;
  data: { endpoint_id: string; url: string };
}

const verify = createVerifier([process.env.ALERT_SECRET ?? '']);
const server = createServer(async (req, res) => {
  const body = Buffer.concat(await req.toArray());
  const checked = verify(req.headers, body);
  if (!checked.ok) return res.writeHead(401).end(checked.message);
  const alert = JSON.parse(body.toString('utf8')) as Alert;
  console.log(`${alert.event_type} ${alert.data.url} (endpoint ${alert.data.endpoint_id})`);
  res.writeHead(204).end();
});
server.listen(Number(process.env.PORT ?? 4100), () => console.log('Listening for alerts'));
