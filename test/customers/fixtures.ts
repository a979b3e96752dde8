/** Test data for third-party customers. */

/** A valid third-party customer submission; `ref` names it. */
export function validThirdParty(ref = 'CUST_001') {
  return {
    client_customer_details: {
      client_customer_ref: ref,
      first_name: 'Ada',
      last_name: 'Lovelace',
      email: 'ada@example.com',
      mobile_phone: '+14155552671',
      country: 'USA',
      date_of_birth: '1985-04-12',
      address: {
        address_line: '1 Market Street',
        city: 'San Francisco',
        state: 'CA',
        post_code: '94105',
        country: 'USA',
      },
      currency: 'USD',
      occupation: 'Engineer',
      employer_name: 'Analytical Engines Inc',
      income_range: { currency: 'USD', min_value: 100000, max_value: 200000 },
    },
    property_details: [
      {
        property_ref: 'PROP_1',
        unit_number: '12B',
        building_name: 'Harbour View',
        project_name: 'Bayside',
        property_purchase_amount: { currency: 'USD', value: 750000.5 },
      },
    ],
  };
}
