import { createTpcsClient } from '../src/client/index.js'; // in your app: 'tpcs/client'

const tpcs = createTpcsClient({ baseUrl: process.env.TPCS_API ?? '', token: process.env.TPCS_TOKEN });
const { data, error } = await tpcs.GET('/api/v1/customers/{customer_id}/events', {
  params: { path: { customer_id: process.env.TPCS_CUSTOMER_ID ?? '' }, query: { limit: 10 } },
});
if (data === undefined) throw new Error(`${error?.error.code}: ${error?.error.message}`); // typed error codes
for (const event of data.events) {
  console.log(event.event_id, event.data.client_customer_ref, event.data.status); // typed as the contract
}
